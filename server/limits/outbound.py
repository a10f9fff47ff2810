"""The budget of requests the server may send one provider connection.

A provider documents a limit (say, 100 requests per 15 minutes per token and category of
endpoint). When the provider announces its window in its answers (`RateLimit-Remaining`
and `-Reset`, or `X-RateLimit-…`), the budget paces by what it last announced: requests
go while some remain, and wait for the reset once none do. When it does not, the budget
counts the documented limit in a moving window, so that no window of that length,
however it is aligned, sees more; that window lives in Redis when it is configured, so
several server processes share one connection's budget instead of each spending all of
it. A 429 pauses the category for its `Retry-After` (at least a second), whatever else
is known.

A provider's word is taken only when it makes sense: a header that is not a finite,
non-negative number (`nan`, `inf`, `-1`) is no announcement, and no wait is believed past
the wait limit (`BUSINESS_API_PROVIDER_WAIT_LIMIT`): the budget keeps at most that long,
so neither this process nor the next crawler that restores the pace inherits a wait of
31 years, and a sync pass asked for more ends with `WaitTooLong` instead of sleeping.

The moving window is the `limits` library's; it cannot take the provider's word for the
window's state, hence the announcements kept here.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from server.limits.passes import THROTTLED_FLOOR, current_pass


def budget_storage(redis_url: str | None) -> Storage:
    if redis_url:
        return RedisStorage(
            "async+" + redis_url, implementation="redispy", key_prefix="business-api:outbound"
        )
    return MemoryStorage()


def number(value: Any) -> float | None:
    """`value` as a finite, non-negative number; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        parsed = float(value)
    except ValueError:
        return None
    return parsed if math.isfinite(parsed) and parsed >= 0 else None


_PREFIXES = {"ratelimit-": "RateLimit-", "x-ratelimit-": "X-RateLimit-"}


def _header(headers: Mapping[str, str], name: str) -> tuple[float | None, str]:
    """The number in `RateLimit-<name>` or `X-RateLimit-<name>`, and the header's name."""
    for prefix, spelt in _PREFIXES.items():
        value = headers.get(prefix + name)
        if value is not None:
            return number(value), spelt + name.capitalize()
    return None, ""


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
        wait_limit: float = 900.0,
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerSecond(limit, multiples=max(int(window_seconds), 1))
        self._connection = connection
        self._category = category
        self._clock = clock
        self._wait_limit = wait_limit
        self._paused_until: dict[str, float] = {}
        # category -> (the provider's limit, requests it said remain, when its window resets)
        self._announced: dict[str, tuple[int, int, float]] = {}
        # category -> (seconds asked past the wait limit, by what): kept at the limit above
        self._overlong: dict[str, tuple[float, str]] = {}
        self.waited_seconds = 0.0

    def _now(self) -> float:
        """The time: a sync pass's own clock while one is in force."""
        this_pass = current_pass()
        return this_pass.clock() if this_pass is not None else self._clock()

    def _longest(self) -> float:
        this_pass = current_pass()
        return this_pass.bounds.wait_limit if this_pass is not None else self._wait_limit

    async def wait_needed(self, path: str) -> float:
        """Take one request from the budget and return 0, or return how many seconds to
        wait before one is available (taking nothing)."""
        category = self._category(path)
        now = self._now()
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
                self._overlong.pop(category, None)
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
        """Take on a stored snapshot: whatever in it is not a number, or is further away
        than the wait limit (a pace stored before these checks), is left out or cut."""
        if not isinstance(snapshot, dict):
            return
        latest = self._now() + self._longest()
        announced = snapshot.get("announced")
        for category, entry in announced.items() if isinstance(announced, dict) else ():
            if not isinstance(entry, list) or len(entry) != 3:
                continue
            values = [v for v in map(number, entry) if v is not None]
            if len(values) != 3:
                continue
            limit, remaining, resets = values
            known = self._announced.get(category)
            if known is None or known[2] < resets:
                self._announced[category] = (int(limit), int(remaining), min(resets, latest))
        paused = snapshot.get("paused_until")
        for category, value in paused.items() if isinstance(paused, dict) else ():
            until = number(value)
            if until is not None:
                kept = self._paused_until.get(category, 0.0)
                self._paused_until[category] = max(kept, min(until, latest))

    async def take(self, path: str) -> None:
        """Wait for the budget (the sync worker's way): within the bounds of the sync pass
        in force, or however long without one."""
        this_pass = current_pass()
        while (wait := await self.wait_needed(path)) > 0:
            if this_pass is None:
                self.waited_seconds += wait
                await asyncio.sleep(wait)
                continue
            overlong = self._overlong.get(self._category(path))
            if overlong is not None:
                raise this_pass.too_long(*overlong)
            await this_pass.wait(wait, "its rate limit")
            self.waited_seconds += wait

    def learn(self, path: str, status: int, headers: Mapping[str, str]) -> None:
        """Take the provider's word for its window, and a 429's for how long to wait."""
        category = self._category(path)
        now = self._now()
        self._overlong.pop(category, None)  # each answer is the provider's latest word
        (limit, _), (remaining, _) = _header(headers, "limit"), _header(headers, "remaining")
        reset, reset_header = _header(headers, "reset")
        if limit is not None and remaining is not None and reset is not None:
            # The window resets `reset` seconds from now (rounded up by the provider).
            wait = self._believed(category, reset, reset_header)
            self._announced[category] = (int(limit), int(min(remaining, limit)), now + wait)
        if status == 429:
            asked, asked_by = number(headers.get("retry-after", "").strip()), "Retry-After"
            if asked is None:
                asked, asked_by = reset, reset_header
            wait = self._believed(category, max(asked or 0.0, THROTTLED_FLOOR), asked_by)
            until = now + wait
            self._paused_until[category] = max(self._paused_until.get(category, 0.0), until)

    def _believed(self, category: str, seconds: float, asked_by: str) -> float:
        """`seconds`, or the wait limit when the provider asks for more (remembered, so
        that a sync pass that must wait says what was asked instead of waiting)."""
        longest = self._longest()
        if seconds <= longest:
            return seconds
        self._overlong[category] = (seconds, asked_by)
        return longest
