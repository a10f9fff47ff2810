"""The budget of requests the server may send one provider connection.

A provider documents a limit (say, 100 requests per 15 minutes per token and category of
endpoint). When the provider announces its window in its answers (`RateLimit-Remaining`
and `-Reset`, or `X-RateLimit-…`), the budget paces by what it last announced: requests
go while some remain, and wait for the reset once none do. When it does not, the budget
counts the documented limit in a moving window, so that no window of that length,
however it is aligned, sees more; that window lives in Redis when it is configured, so
several server processes share one connection's budget instead of each spending all of
it. A 429 with `Retry-After` pauses the category until then, whatever else is known.

The moving window is the `limits` library's; it cannot take the provider's word for the
window's state, hence the announcements kept here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter


def budget_storage(redis_url: str | None) -> Storage:
    if redis_url:
        return RedisStorage(
            "async+" + redis_url, implementation="redispy", key_prefix="business-api:outbound"
        )
    return MemoryStorage()


def _header(headers: Mapping[str, str], name: str) -> float | None:
    for prefix in ("ratelimit-", "x-ratelimit-"):
        value = headers.get(prefix + name)
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None
    return None


class OutboundBudget:
    """One connection's budget: `limit` requests in any `window_seconds`, per category,
    unless the provider says otherwise."""

    def __init__(
        self,
        storage: Storage,
        connection: str,
        *,
        limit: int,
        window_seconds: float,
        category: Callable[[str], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerSecond(limit, multiples=max(int(window_seconds), 1))
        self._connection = connection
        self._category = category
        self._clock = clock
        self._paused_until: dict[str, float] = {}
        # category -> (the provider's limit, requests it said remain, when its window resets)
        self._announced: dict[str, tuple[int, int, float]] = {}
        self.waited_seconds = 0.0

    async def wait_needed(self, path: str) -> float:
        """Take one request from the budget and return 0, or return how many seconds to
        wait before one is available (taking nothing)."""
        category = self._category(path)
        now = self._clock()
        paused = self._paused_until.get(category, 0.0) - now
        if paused > 0:
            return paused
        announced = self._announced.get(category)
        if announced is not None:
            # Once a provider announces its window, its word is followed: a spent window
            # waits for its reset, and after the reset a new one starts at its limit.
            limit, remaining, resets = announced
            if now >= resets:
                remaining, resets = limit, now + 3600.0  # until it says when it resets
            if remaining <= 0:
                return resets - now
            self._announced[category] = (limit, remaining - 1, resets)
            return 0.0
        if await self._limiter.hit(self._item, self._connection, category):
            return 0.0
        reset, _ = await self._limiter.get_window_stats(self._item, self._connection, category)
        return max(reset - time.time(), 0.05)

    def snapshot(self) -> dict[str, Any]:
        """What the provider last announced, and the pauses it asked for (wall-clock times),
        for the next crawler of this connection, whichever process runs it."""
        return {
            "announced": {c: list(a) for c, a in self._announced.items()},
            "paused_until": dict(self._paused_until),
        }

    def restore(self, snapshot: Any) -> None:
        if not isinstance(snapshot, dict):
            return
        for category, (limit, remaining, resets) in (snapshot.get("announced") or {}).items():
            known = self._announced.get(category)
            if known is None or known[2] < resets:
                self._announced[category] = (int(limit), int(remaining), float(resets))
        for category, until in (snapshot.get("paused_until") or {}).items():
            self._paused_until[category] = max(self._paused_until.get(category, 0.0), until)

    async def take(self, path: str) -> None:
        """Wait for the budget, however long (the sync worker's way)."""
        while (wait := await self.wait_needed(path)) > 0:
            self.waited_seconds += wait
            await asyncio.sleep(wait)

    def learn(self, path: str, status: int, headers: Mapping[str, str]) -> None:
        """Take the provider's word for its window, and a 429's for how long to wait."""
        category = self._category(path)
        now = self._clock()
        limit, remaining = _header(headers, "limit"), _header(headers, "remaining")
        reset = _header(headers, "reset")
        if limit is not None and remaining is not None and reset is not None:
            # The window resets `reset` seconds from now (rounded up by the provider).
            self._announced[category] = (int(limit), int(remaining), now + max(reset, 0.0))
        if status == 429:
            retry_after = headers.get("retry-after", "").strip()
            wait = float(retry_after) if retry_after.isdigit() else (reset or 1.0)
            until = now + wait
            self._paused_until[category] = max(self._paused_until.get(category, 0.0), until)
