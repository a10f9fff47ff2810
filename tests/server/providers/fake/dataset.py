"""People of the fake provider: `size` of them, numbered, each in a few sessions."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class FakeDataset:
    people: tuple[dict, ...]
    attendance: dict[str, tuple[str, ...]]  # person id -> session ids


def generate_dataset(seed: int = 1, size: int = 30) -> FakeDataset:
    rng = random.Random(seed)
    people = tuple(
        {
            "id": f"f{seed}-{i:04d}",
            "name": f"Fake Person {i}",
            "created": f"2026-01-01T00:00:{i % 60:02d}.000Z",
        }
        for i in range(size)
    )
    attendance = {
        p["id"]: tuple(f"s{rng.randrange(20)}" for _ in range(rng.randrange(3))) for p in people
    }
    return FakeDataset(people, attendance)
