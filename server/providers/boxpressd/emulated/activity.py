"""What plausibly happens at a Boxpressd venue or brand, as changes its emulator takes:
the activity simulator names an `Intent`, and this picks who and what from the current
data. Smoke sessions are logged, seldom edited and never confirmed or cancelled; users
have no email, no consent and buy nothing here."""

from __future__ import annotations

import random
from collections.abc import Callable

from server.providers.boxpressd.emulated.dataset import (
    FIRST_NAMES,
    INITIALS,
    RATINGS,
    BoxpressdDataset,
)
from server.providers.emulated.mutations import Intent, Json


def propose(dataset: BoxpressdDataset, intent: Intent, rng: random.Random) -> Json | None:
    """A change request for `intent`, or None when there is nothing to apply it to."""
    proposers: dict[Intent, Callable[[BoxpressdDataset, random.Random], Json | None]] = {
        Intent.JOIN: _join,
        Intent.REGISTER: _smoke_again,
        Intent.RENAME: _rename,
        Intent.UNREGISTER: _unregister,
        Intent.LEAVE: _leave,
    }
    proposer = proposers.get(intent)
    return proposer(dataset, rng) if proposer else None


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(INITIALS)}."


def _join(dataset: BoxpressdDataset, rng: random.Random) -> Json:
    return {"kind": "participant", "op": "add", "name": _name(rng), "rating": rng.choice(RATINGS)}


def _smoke_again(dataset: BoxpressdDataset, rng: random.Random) -> Json | None:
    """A regular comes back: users are picked as often as they have sessions."""
    if not dataset.sessions:
        return None
    user = rng.choice(dataset.sessions)["user"]["id"]
    return {"kind": "registration", "op": "add", "participant": user}


def _rename(dataset: BoxpressdDataset, rng: random.Random) -> Json | None:
    if not dataset.sessions:
        return None
    user = rng.choice(dataset.sessions)["user"]
    name = _name(rng)
    while name == user["displayName"]:
        name = _name(rng)
    return {"kind": "participant", "op": "change", "id": user["id"], "name": name}


def _unregister(dataset: BoxpressdDataset, rng: random.Random) -> Json | None:
    if not dataset.sessions:
        return None
    return {"kind": "registration", "op": "remove", "id": rng.choice(dataset.sessions)["id"]}


def _leave(dataset: BoxpressdDataset, rng: random.Random) -> Json | None:
    seen = sorted({session["user"]["id"] for session in dataset.sessions})
    if not seen:
        return None
    return {"kind": "participant", "op": "remove", "id": rng.choice(seen)}
