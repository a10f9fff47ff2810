"""Retrying provider calls: transient failures get a few more tries, politely spaced.

Every call an adapter makes is a read, so it is safe to repeat. A throttled (429) or
failing (5xx) answer, a network error or a timeout is tried again up to `attempts` times in
all, waiting what the provider's `Retry-After` asks when it says, or an exponential backoff
with jitter when it does not. A provider that asks for a longer wait than `longest_wait` is
not waited for: the request answers at once with UPSTREAM_UNAVAILABLE instead of stalling.
A refused credential, a 404 or a body of the wrong shape is not retried. The operation's own
time limit still bounds everything.

Within a sync pass (`server/limits/passes.py`), the pass decides instead: a 429 is a wait,
never a used-up try (what its `Retry-After` asks, at least a second), for as long as the
pass's bounds allow; a wait past the wait limit ends the pass with `WaitTooLong`; other
transient failures get their `attempts` with backoff; every request and every wait is
counted against the pass's bounds and made with its clock.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from server.limits.passes import THROTTLED_FLOOR, SyncPass, current_pass
from server.providers.errors import ProviderError, ProviderThrottled

T = TypeVar("T")


def _asked_wait(error: BaseException | None) -> float | None:
    return error.retry_after if isinstance(error, ProviderThrottled) else None


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int = 3,
    longest_wait: float = 2.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    this_pass = current_pass()
    if this_pass is not None:
        return await _within_pass(call, this_pass, attempts)
    try:  # most calls succeed at once: no retry machinery for them
        return await call()
    except ProviderError as error:
        if attempts <= 1 or not _worth(error, longest_wait):
            raise
        first_failure = error
    return await _retrying(call, first_failure, attempts, longest_wait, sleep)


def _worth(error: BaseException, longest_wait: float) -> bool:
    if not isinstance(error, ProviderError) or not error.transient:
        return False
    asked = _asked_wait(error)
    return asked is None or asked <= longest_wait


async def _retrying(
    call: Callable[[], Awaitable[T]],
    first_failure: ProviderError,
    attempts: int,
    longest_wait: float,
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """The tries after a first failure, all on tenacity's schedule: the failure already
    seen is its first attempt, so the backoff windows widen from there (0.1, 0.2, 0.4 s)
    rather than start over."""
    backoff = wait_random_exponential(multiplier=0.1, max=longest_wait)  # "full jitter"

    def worth_retrying(error: BaseException) -> bool:
        return _worth(error, longest_wait)

    def wait(state: RetryCallState) -> float:
        asked = _asked_wait(_error(state))
        return asked if asked is not None else float(backoff(state))

    seen: ProviderError | None = first_failure
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait,
        retry=retry_if_exception(worth_retrying),
        reraise=True,
        sleep=sleep,
    ):
        with attempt:
            if seen is not None:  # the fast path's failure, not a call made twice
                failed, seen = seen, None
                raise failed
            return await call()
    raise AssertionError("unreachable: tenacity re-raises the last failure")


async def _within_pass(call: Callable[[], Awaitable[T]], this_pass: SyncPass, attempts: int) -> T:
    """The tries of a call within a sync pass: a throttled answer is waited out for as
    long as the pass allows (a crawler that gave up on a 429 would end a pass a provider
    only asked to slow), every other transient failure uses up one of `attempts`."""
    backoff = wait_random_exponential(multiplier=0.1, max=60.0)
    failures = 0
    asked_by = ""

    def stop(state: RetryCallState) -> bool:
        nonlocal failures
        if isinstance(_error(state), ProviderThrottled):
            return False  # a wait, not a failed try: the pass's bounds end it
        failures += 1
        return failures >= attempts

    def wait(state: RetryCallState) -> float:
        nonlocal asked_by
        error = _error(state)
        if isinstance(error, ProviderThrottled):
            asked = error.retry_after
            asked_by = "Retry-After"
            if asked is None or math.isnan(asked) or asked < 0:  # said nothing usable
                return THROTTLED_FLOOR
            return max(asked, THROTTLED_FLOOR)
        asked_by = "a backoff between tries"
        return float(backoff(state))

    async def sleep(seconds: float) -> None:
        this_pass.check_room()  # no wait for a try the pass may not make
        await this_pass.wait(seconds, asked_by)

    async def attempt() -> T:
        this_pass.admit()
        try:
            return await call()
        except ProviderThrottled:
            this_pass.throttled += 1
            raise

    async for trying in AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(
            lambda error: isinstance(error, ProviderError) and error.transient
        ),
        reraise=True,
        sleep=sleep,
    ):
        with trying:
            return await attempt()
    raise AssertionError("unreachable: tenacity re-raises the last failure")


def _error(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome else None
