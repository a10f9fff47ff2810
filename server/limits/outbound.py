"""The budget of requests the server may send one provider connection.

A provider documents a limit (say, 100 requests per 15 minutes per token and category of
endpoint); the budget keeps every connection under it, counted in a moving window so
that no window of that length, however it is aligned, sees more. The window lives in
Redis when it is configured, so several server processes share one connection's budget
instead of each spending all of it. On top, each process learns from the provider's own
answers: `RateLimit-Remaining: 0` (or `X-RateLimit-…`) with its reset, or a 429 with
`Retry-After`, pauses the connection's category until then.

The moving window is the `limits` library's; it cannot take the provider's word for the
window's state, hence the pauses kept here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

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
    """One connection's budget: `limit` requests in any `window_seconds`, per category."""

    def __init__(
        self,
        storage: Storage,
        connection: str,
        *,
        limit: int,
        window_seconds: float,
        category: Callable[[str], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerSecond(limit, multiples=max(int(window_seconds), 1))
        self._connection = connection
        self._category = category
        self._clock = clock
        self._paused_until: dict[str, float] = {}

    async def wait_needed(self, path: str) -> float:
        """Take one request from the budget and return 0, or return how many seconds to
        wait before one is available (taking nothing)."""
        category = self._category(path)
        paused = self._paused_until.get(category, 0.0) - self._clock()
        if paused > 0:
            return paused
        if await self._limiter.hit(self._item, self._connection, category):
            return 0.0
        reset, _ = await self._limiter.get_window_stats(self._item, self._connection, category)
        return max(reset - time.time(), 0.05)

    async def take(self, path: str) -> None:
        """Wait for the budget, however long (the sync worker's way)."""
        while (wait := await self.wait_needed(path)) > 0:
            await asyncio.sleep(wait)

    def learn(self, path: str, status: int, headers: Mapping[str, str]) -> None:
        """Pause the category when the provider says its window is spent."""
        wait = None
        if status == 429:
            wait = _header(headers, "reset")
            retry_after = headers.get("retry-after", "")
            if retry_after.strip().isdigit():
                wait = float(retry_after)
            wait = wait if wait is not None else 1.0
        elif _header(headers, "remaining") == 0:
            wait = _header(headers, "reset") or 1.0
        if wait is not None:
            category = self._category(path)
            until = self._clock() + wait
            self._paused_until[category] = max(self._paused_until.get(category, 0.0), until)
