"""The outbound budget takes a provider's word only when it makes sense: numbers that are
no finite non-negative number are no announcement, and no wait is kept past the wait
limit; within a sync pass, a wait past it is an error instead of a sleep."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from limits.aio.storage import MemoryStorage

from server.limits.outbound import OutboundBudget
from server.limits.passes import PassBounds, SyncPass, WaitTooLong, in_force

NOW = 1_800_000_000.0


def budget(wait_limit: float = 900.0) -> OutboundBudget:
    return OutboundBudget(
        MemoryStorage(),
        "conn_test",
        limit=10,
        window_seconds=60,
        category=lambda path: "",
        clock=lambda: NOW,
        wait_limit=wait_limit,
    )


def a_pass(wait_limit: float = 900.0) -> SyncPass:
    async def sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s")

    return SyncPass(
        PassBounds(wait_limit=wait_limit), provider="sessions", clock=lambda: NOW, sleep=sleep
    )


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "-1", "1e999", "soon", ""])
def test_a_header_that_is_no_finite_non_negative_number_is_no_announcement(value: str) -> None:
    spent = budget()
    headers = {"ratelimit-limit": "10", "ratelimit-remaining": value, "ratelimit-reset": "30"}
    spent.learn("/x", 200, headers)
    spent.learn("/x", 200, {**headers, "ratelimit-remaining": "0", "ratelimit-reset": value})
    assert spent.snapshot() == {"announced": {}, "paused_until": {}}


def test_a_429_saying_0_or_nonsense_pauses_a_second() -> None:
    for said in ("0", "nan", "-3"):
        paused = budget()
        paused.learn("/x", 429, {"retry-after": said})
        assert paused.snapshot()["paused_until"] == {"": NOW + 1.0}


def test_a_wait_past_the_limit_is_kept_at_the_limit_and_a_pass_refuses_it() -> None:
    absurd = budget(wait_limit=120)
    headers = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0"}
    absurd.learn("/x", 200, {**headers, "x-ratelimit-reset": "1000000000"})
    [(limit, remaining, resets)] = absurd.snapshot()["announced"].values()
    assert (limit, remaining, resets) == (10, 0, NOW + 120)
    with in_force(a_pass(wait_limit=120)), pytest.raises(WaitTooLong) as refused:
        asyncio.run(absurd.take("/x"))
    assert refused.value.detail == (
        "it asked to wait 1000000000 s (X-RateLimit-Reset), longer than the wait limit of "
        "120 s (BUSINESS_API_PROVIDER_WAIT_LIMIT)"
    )


def test_a_pace_stored_before_these_checks_is_cut_to_the_limit_or_left_out() -> None:
    restored = budget(wait_limit=900)
    restored.restore(
        {
            "announced": {"": [10, 0, NOW + 1e9], "a": ["x", 1, 2], "b": [1, 2], "c": 5},
            "paused_until": {"": NOW + 1e9, "a": math.nan, "b": "later"},
        }
    )
    kept = restored.snapshot()
    assert kept == {"announced": {"": [10, 0, NOW + 900]}, "paused_until": {"": NOW + 900}}
    json.dumps(kept, allow_nan=False)
    for spoilt in (None, [], "x", {"announced": [1], "paused_until": 3}):
        budget().restore(spoilt)  # nothing to take, and no failure
