"""The in-process backend: right for one server process (the default)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from server.limits.rate import Bucket, Verdict, evaluate, verdict

_PRUNE_EVERY = 10_000


def _now_ms() -> float:
    return time.monotonic() * 1000


class MemoryRateLimiter:
    """No await between reading and writing the buckets, so each check is atomic."""

    def __init__(self, clock: Callable[[], float] = _now_ms) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._checks = 0

    async def check(self, buckets: Sequence[Bucket]) -> Verdict:
        now = self._clock()
        states = [evaluate(b, self._tats.get(b.name), now) for b in buckets]
        result = verdict(states)
        if result.allowed:
            for state in states:
                self._tats[state.bucket.name] = state.new_tat
        self._checks += 1
        if self._checks % _PRUNE_EVERY == 0:
            self._tats = {name: tat for name, tat in self._tats.items() if tat > now}
        return result

    async def problem(self) -> str | None:
        return None

    async def close(self) -> None:
        return None
