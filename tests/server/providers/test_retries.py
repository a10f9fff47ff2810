"""The retry schedule of a provider call outside a sync pass (`server/providers/retries.py`).

The call here is a plain coroutine rather than a provider over HTTP: what is under test is
the schedule alone (how many tries, which waits are asked of `sleep`), and a scripted
sequence of failures states it exactly. Retries over real sockets are in
`tests/server/test_upstream_failures.py`.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import pytest

from server.providers import retries
from server.providers.errors import (
    ProviderError,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
)
from server.providers.retries import with_retries


def failing(*failures: ProviderError) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A call that raises `failures` in turn, then answers "ok"; and its count of tries."""
    tries = [0]

    async def call() -> str:
        tries[0] += 1
        if tries[0] <= len(failures):
            raise failures[tries[0] - 1]
        return "ok"

    return call, tries


def recording() -> tuple[Callable[[float], Awaitable[None]], list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return sleep, waits


def down() -> ProviderUnavailable:
    return ProviderUnavailable("fake", "HTTP 503", 503)


async def test_the_backoff_windows_double_from_the_first_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Full jitter draws each wait between 0 and a window; drawing the top of the window
    # makes the windows themselves visible.
    windows: list[tuple[float, float]] = []

    def top_of_window(low: float, high: float) -> float:
        windows.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", top_of_window)
    call, tries = failing(down(), down(), down())
    sleep, waits = recording()

    assert await with_retries(call, attempts=4, longest_wait=2.0, sleep=sleep) == "ok"

    assert tries[0] == 4
    assert waits == pytest.approx([0.1, 0.2, 0.4])
    assert [low for low, _ in windows] == [0, 0, 0]
    assert [high for _, high in windows] == pytest.approx([0.1, 0.2, 0.4])


async def test_the_backoff_window_stops_growing_at_the_longest_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    call, _ = failing(down(), down(), down())
    sleep, waits = recording()

    await with_retries(call, attempts=4, longest_wait=0.15, sleep=sleep)

    assert waits == pytest.approx([0.1, 0.15, 0.15])


async def test_the_wait_a_provider_asks_for_is_the_wait_made() -> None:
    call, tries = failing(
        ProviderThrottled("fake", "HTTP 429", retry_after=1.5),
        ProviderThrottled("fake", "HTTP 429", retry_after=0.5),
    )
    sleep, waits = recording()

    assert await with_retries(call, attempts=3, longest_wait=2.0, sleep=sleep) == "ok"

    assert tries[0] == 3
    assert waits == [1.5, 0.5]


async def test_a_provider_asking_for_more_than_the_longest_wait_is_not_waited_for() -> None:
    throttled = ProviderThrottled("fake", "HTTP 429", retry_after=30.0)
    call, tries = failing(throttled)
    sleep, waits = recording()

    with pytest.raises(ProviderThrottled) as raised:
        await with_retries(call, attempts=3, longest_wait=2.0, sleep=sleep)

    assert raised.value is throttled
    assert tries[0] == 1
    assert waits == []


async def test_a_longer_wait_asked_after_a_retry_ends_the_tries_there() -> None:
    call, tries = failing(down(), ProviderThrottled("fake", "HTTP 429", retry_after=30.0))
    sleep, waits = recording()

    with pytest.raises(ProviderThrottled):
        await with_retries(call, attempts=3, longest_wait=2.0, sleep=sleep)

    assert tries[0] == 2
    assert len(waits) == 1


async def test_the_last_failure_is_raised_once_every_attempt_is_used() -> None:
    failures = [down(), down(), down()]
    call, tries = failing(*failures)
    sleep, waits = recording()

    with pytest.raises(ProviderUnavailable) as raised:
        await with_retries(call, attempts=3, sleep=sleep)

    assert raised.value is failures[-1]
    assert tries[0] == 3
    assert len(waits) == 2


async def test_a_refused_credential_is_not_tried_again() -> None:
    call, tries = failing(ProviderRejected("fake", "HTTP 401", 401))
    sleep, waits = recording()

    with pytest.raises(ProviderRejected):
        await with_retries(call, attempts=3, sleep=sleep)

    assert tries[0] == 1
    assert waits == []


async def test_a_single_attempt_is_never_retried() -> None:
    call, tries = failing(down())
    sleep, waits = recording()

    with pytest.raises(ProviderUnavailable):
        await with_retries(call, attempts=1, sleep=sleep)

    assert tries[0] == 1
    assert waits == []


async def test_a_call_that_succeeds_at_once_builds_no_retry_machinery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_machinery(*args: object, **kwargs: object) -> None:
        raise AssertionError("tenacity was set up for a call that needed no retry")

    monkeypatch.setattr(retries, "AsyncRetrying", no_machinery)
    monkeypatch.setattr(retries, "wait_random_exponential", no_machinery)
    call, tries = failing()

    assert await with_retries(call) == "ok"
    assert tries[0] == 1
