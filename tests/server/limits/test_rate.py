"""Token buckets checked together, in process and in Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from server.limits.in_process import MemoryRateLimiter
from server.limits.in_redis import RedisRateLimiter
from server.limits.rate import Bucket, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.ms = 1_000_000.0

    def __call__(self) -> float:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += seconds * 1000


def key(per_minute: int, name: str = "k1") -> Bucket:
    return Bucket("key", f"key:{name}", per_minute)


def business(per_minute: int, name: str = "b1") -> Bucket:
    return Bucket("business", f"business:{name}", per_minute)


async def test_a_bucket_admits_its_burst_then_refuses_until_a_token_refills() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    verdicts = [await limiter.check([key(60)]) for _ in range(60)]
    assert all(v.allowed for v in verdicts)
    assert [v.remaining for v in verdicts[:3]] == [59, 58, 57]
    assert verdicts[-1].remaining == 0

    refused = await limiter.check([key(60)])
    assert not refused.allowed and refused.retry_after == 1 and refused.scope == "key"
    clock.advance(1)
    assert (await limiter.check([key(60)])).allowed
    assert not (await limiter.check([key(60)])).allowed


async def test_retry_after_is_whole_seconds_until_a_request_would_pass() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    for _ in range(6):
        await limiter.check([key(6)])
    refused = await limiter.check([key(6)])
    assert refused.retry_after == 10  # one token every 10 s
    clock.advance(9.5)
    assert (await limiter.check([key(6)])).retry_after == 1
    clock.advance(0.5)
    assert (await limiter.check([key(6)])).allowed


async def test_a_request_refused_by_one_bucket_takes_nothing_from_the_other() -> None:
    limiter = MemoryRateLimiter(FakeClock())
    for _ in range(3):
        assert (await limiter.check([key(3, "a"), business(5)])).allowed
    for _ in range(10):
        refused = await limiter.check([key(3, "a"), business(5)])
        assert not refused.allowed and refused.scope == "key"
    # The business bucket still has exactly two requests left for another key.
    assert (await limiter.check([key(3, "b"), business(5)])).allowed
    last = await limiter.check([key(3, "b"), business(5)])
    assert last.allowed and last.remaining == 0
    refused = await limiter.check([key(3, "b"), business(5)])
    assert not refused.allowed and refused.scope == "business"


async def test_headers_describe_the_tighter_bucket() -> None:
    limiter = MemoryRateLimiter(FakeClock())
    first = await limiter.check([key(60), business(120)])
    assert (first.limit, first.remaining) == (60, 59)
    for _ in range(4):
        await limiter.check([key(60, "other"), business(5, "small")])
    tight = await limiter.check([key(60, "third"), business(5, "small")])
    assert (tight.limit, tight.remaining) == (5, 0)
    assert tight.reset_seconds == 60


@pytest.fixture
async def redis_limiter() -> AsyncIterator[RedisRateLimiter]:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: Redis rate limit tests skipped")
    limiter = RedisRateLimiter(url, prefix=f"test:{uuid.uuid4().hex}:")
    yield limiter
    await limiter.close()


async def test_redis_buckets_refuse_past_the_burst_and_keep_the_other_bucket(
    redis_limiter: RedisRateLimiter,
) -> None:
    for _ in range(3):
        assert (await redis_limiter.check([key(3, "a"), business(5)])).allowed
    refused = await redis_limiter.check([key(3, "a"), business(5)])
    assert not refused.allowed and refused.scope == "key" and refused.retry_after == 20
    assert (await redis_limiter.check([key(3, "b"), business(5)])).allowed
    assert (await redis_limiter.check([key(3, "b"), business(5)])).remaining == 0
    refused = await redis_limiter.check([key(3, "b"), business(5)])
    assert not refused.allowed and refused.scope == "business"


async def test_concurrent_checks_in_redis_admit_exactly_the_burst(
    redis_limiter: RedisRateLimiter,
) -> None:
    limiters: list[RateLimiter] = [redis_limiter]
    results = await asyncio.gather(
        *(limiters[0].check([key(1000, f"k{i % 7}"), business(25)]) for i in range(200))
    )
    assert sum(v.allowed for v in results) == 25


async def test_a_redis_outage_falls_back_to_limiting_in_process() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0")
    try:
        verdicts = [await limiter.check([key(5)]) for _ in range(7)]
    finally:
        await limiter.close()
    assert [v.allowed for v in verdicts] == [True] * 5 + [False] * 2
    assert verdicts[-1].scope == "key"
