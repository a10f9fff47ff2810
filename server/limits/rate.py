"""Token buckets, checked together: a request passes only if every bucket has room.

The buckets use GCRA (the generic cell rate algorithm), the token bucket expressed as one
timestamp per bucket, the "theoretical arrival time" (TAT). One value per bucket is what
makes checking a key's bucket and its business's bucket in a single atomic step cheap,
both in process and in Redis. A request refused by either bucket consumes from neither.

Why not a library: `limits` and `aiolimiter` (the well-kept Python options) limit one key
at a time; neither checks two buckets atomically with "refuse both or take from both", which
is what keeps a refused request from eating the other bucket's budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Bucket:
    scope: str  # "key", "business", "address", "outbound": what was exceeded
    name: str  # unique storage name, e.g. "key:3f9a…"
    limit: int  # requests per window
    window_ms: float = MINUTE_MS

    @property
    def interval_ms(self) -> float:
        return self.window_ms / self.limit

    @property
    def tolerance_ms(self) -> float:
        """Burst = one window's worth of requests."""
        return self.window_ms


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int  # these four describe the tighter bucket, for the RateLimit-* headers
    remaining: int
    reset_seconds: int
    retry_after: int  # whole seconds until a request would be admitted; 0 when allowed
    scope: str | None  # the bucket that refused


@dataclass(frozen=True)
class BucketState:
    """One bucket's answer for a request at `now_ms`, given its stored TAT."""

    bucket: Bucket
    allowed: bool
    new_tat: float
    remaining: int
    reset_ms: float
    retry_ms: float


def evaluate(bucket: Bucket, stored_tat: float | None, now_ms: float) -> BucketState:
    tat = max(stored_tat or now_ms, now_ms)
    new_tat = tat + bucket.interval_ms
    allow_at = new_tat - bucket.tolerance_ms
    if now_ms < allow_at:
        return BucketState(bucket, False, tat, 0, tat - now_ms, allow_at - now_ms)
    # The epsilon keeps float error (now + 60000 - (now + 12000) = 47999.99…) from costing a
    # whole request of the count.
    remaining = math.floor((now_ms + bucket.tolerance_ms - new_tat) / bucket.interval_ms + 1e-6)
    return BucketState(bucket, True, new_tat, remaining, new_tat - now_ms, 0.0)


def verdict(states: Sequence[BucketState]) -> Verdict:
    tightest = min(states, key=lambda s: (s.remaining, s.bucket.limit))
    refused = [s for s in states if not s.allowed]
    binding = max(refused, key=lambda s: s.retry_ms) if refused else None
    return Verdict(
        allowed=binding is None,
        limit=tightest.bucket.limit,
        remaining=max(tightest.remaining, 0),
        reset_seconds=max(math.ceil(tightest.reset_ms / 1000), 0),
        retry_after=max(math.ceil(binding.retry_ms / 1000), 1) if binding else 0,
        scope=binding.bucket.scope if binding else None,
    )


class RateLimiter(Protocol):
    async def check(self, buckets: Sequence[Bucket]) -> Verdict: ...

    async def problem(self) -> str | None:
        """Why the limiter's shared state cannot be used now, or None."""
        ...

    async def close(self) -> None: ...
