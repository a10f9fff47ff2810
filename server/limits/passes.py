"""The bounds of one sync pass, in force for the task that runs it.

A sync pass crawls one connection for at most `requests` provider requests and `seconds`
seconds, and waits for the provider at most `wait_limit` seconds at a time. Reaching a
bound is not a failure: the pass stops after its last committed batch and the next one
goes on from that checkpoint. A provider asking for a longer wait than the limit (an
absurd `Retry-After` or `X-RateLimit-Reset`) is a failure, said in the sync state: the
pass ends instead of sleeping for years with its lease renewed.

Every request the crawl sends and every wait it makes (for the outbound budget, for a
429's `Retry-After`, for a backoff between tries) goes through the pass, with the pass's
clock and sleep, so a test drives a crawl through hours of provider waits on a fake
clock. The waits happen deep in the provider client, which the query path shares: the
pass is a context variable, in force only in the task running it (as a request's facts
are, in `server/observability/requests.py`), and the outbound budget and the retry
policy consult it there and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from server.providers.errors import ProviderError

# A 429 that asks for no wait (`Retry-After: 0`, or nothing) still waits this long.
THROTTLED_FLOOR = 1.0


@dataclass(frozen=True)
class PassBounds:
    requests: int = 600  # BUSINESS_API_SYNC_PASS_REQUESTS
    seconds: float = 1800.0  # BUSINESS_API_SYNC_PASS_SECONDS
    wait_limit: float = 900.0  # BUSINESS_API_PROVIDER_WAIT_LIMIT


class PassBounded(Exception):
    """A bound of the pass was reached: the crawl stops after its last committed batch,
    and the next pass goes on from there. Not a provider failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WaitTooLong(ProviderError):
    """The provider asked for a wait longer than the wait limit: the pass ends with this
    error rather than wait."""

    def __init__(self, provider: str, seconds: float, asked_by: str, limit: float) -> None:
        asked = f"{seconds:.0f} s" if math.isfinite(seconds) else "for ever"
        super().__init__(
            provider,
            f"it asked to wait {asked} ({asked_by}), longer than the wait limit of "
            f"{limit:g} s (BUSINESS_API_PROVIDER_WAIT_LIMIT)",
            429,
        )


class SyncPass:
    """One pass over one connection: what it has sent and waited, against its bounds."""

    def __init__(
        self,
        bounds: PassBounds,
        *,
        provider: str,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.bounds = bounds
        self.provider = provider
        self.clock = clock
        self._sleep = sleep
        self.deadline = clock() + bounds.seconds
        self.requests = 0  # requests the pass let go
        self.throttled = 0  # of them, answered 429
        self.waited = 0.0

    def admit(self) -> None:
        """Count one more request, or stop the pass at its bounds."""
        self.check_room()
        if self.clock() >= self.deadline:
            raise PassBounded(self._out_of_time())
        self.requests += 1

    def check_room(self) -> None:
        """Stop the pass if it may send no more requests (before waiting to send one)."""
        if self.requests >= self.bounds.requests:
            raise PassBounded(
                f"it sent its {self.bounds.requests} requests (BUSINESS_API_SYNC_PASS_REQUESTS)"
            )

    async def wait(self, seconds: float, asked_by: str) -> None:
        """Wait `seconds` for the provider: unless that is past the wait limit (a failure)
        or past the pass's end (the pass stops now rather than sleep to its end)."""
        if not seconds > 0:
            return
        if not seconds <= self.bounds.wait_limit:  # a NaN too
            raise WaitTooLong(self.provider, seconds, asked_by, self.bounds.wait_limit)
        if self.clock() + seconds > self.deadline:
            raise PassBounded(f"{asked_by} asked to wait {seconds:.0f} s; {self._out_of_time()}")
        self.waited += seconds
        await self._sleep(seconds)

    def too_long(self, seconds: float, asked_by: str) -> WaitTooLong:
        return WaitTooLong(self.provider, seconds, asked_by, self.bounds.wait_limit)

    def _out_of_time(self) -> str:
        return f"its {self.bounds.seconds:g} s were up (BUSINESS_API_SYNC_PASS_SECONDS)"


_current: ContextVar[SyncPass | None] = ContextVar("sync_pass", default=None)


def current_pass() -> SyncPass | None:
    """The pass the running task crawls in, if any."""
    return _current.get()


@contextmanager
def in_force(this_pass: SyncPass) -> Iterator[SyncPass]:
    token = _current.set(this_pass)
    try:
        yield this_pass
    finally:
        _current.reset(token)
