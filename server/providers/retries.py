"""Retrying provider calls: transient failures get a few more tries, politely spaced.

Every call an adapter makes is a read, so it is safe to repeat. A throttled (429) or
failing (5xx) answer, a network error or a timeout is tried again up to `ATTEMPTS` times in
all, waiting what the provider's `Retry-After` asks when it says, or an exponential backoff
with jitter when it does not. A provider that asks for a longer wait than `LONGEST_WAIT` is
not waited for: the request answers at once with UPSTREAM_UNAVAILABLE instead of stalling.
A refused credential, a 404 or a body of the wrong shape is not retried. The operation's own
time limit still bounds everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from server.providers.errors import ProviderError, ProviderThrottled

T = TypeVar("T")

ATTEMPTS = 3
LONGEST_WAIT = 2.0
_backoff = wait_random_exponential(multiplier=0.1, max=LONGEST_WAIT)  # "full jitter"


def _asked_wait(error: BaseException | None) -> float | None:
    return error.retry_after if isinstance(error, ProviderThrottled) else None


def _worth_retrying(error: BaseException) -> bool:
    if not isinstance(error, ProviderError) or not error.transient:
        return False
    asked = _asked_wait(error)
    return asked is None or asked <= LONGEST_WAIT


def _wait(state: RetryCallState) -> float:
    asked = _asked_wait(state.outcome.exception() if state.outcome else None)
    return asked if asked is not None else float(_backoff(state))


async def with_retries(call: Callable[[], Awaitable[T]]) -> T:
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(ATTEMPTS),
        wait=_wait,
        retry=retry_if_exception(_worth_retrying),
        reraise=True,
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises the last failure")
