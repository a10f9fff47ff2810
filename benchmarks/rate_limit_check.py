"""How much latency the rate limit check adds to each request, per backend.

Each request makes one check of two buckets (its key's and its business's). This times
that check alone, sequentially (the latency one request sees) and with many requests in
flight at once (throughput), for the in-process backend and for Redis.

    python benchmarks/rate_limit_check.py [--redis redis://127.0.0.1:6379/0] [--checks 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from server.limits.in_process import MemoryRateLimiter
from server.limits.in_redis import RedisRateLimiter
from server.limits.rate import Bucket, RateLimiter


def _buckets(index: int) -> list[Bucket]:
    # Generous limits: the benchmark measures the check, not refusals.
    return [
        Bucket("key", f"key:bench-{index % 50}", 10_000_000),
        Bucket("business", f"business:bench-{index % 5}", 10_000_000),
    ]


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


async def _sequential(limiter: RateLimiter, checks: int) -> list[float]:
    samples = []
    for index in range(checks):
        began = time.perf_counter()
        await limiter.check(_buckets(index))
        samples.append((time.perf_counter() - began) * 1_000_000)
    return samples


async def _concurrent(limiter: RateLimiter, checks: int, in_flight: int) -> float:
    queue = iter(range(checks))

    async def worker() -> None:
        for index in queue:
            await limiter.check(_buckets(index))

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return checks / (time.perf_counter() - began)


async def _report(name: str, limiter: RateLimiter, checks: int) -> None:
    await _sequential(limiter, min(1000, checks))  # warm up (connections, script load)
    samples = await _sequential(limiter, checks)
    throughput = await _concurrent(limiter, checks, in_flight=50)
    print(
        f"{name:<11} added latency per request: "
        f"p50 {_percentile(samples, 0.50):7.1f} µs  "
        f"p95 {_percentile(samples, 0.95):7.1f} µs  "
        f"p99 {_percentile(samples, 0.99):7.1f} µs  "
        f"mean {statistics.fmean(samples):7.1f} µs  |  "
        f"{throughput:9.0f} checks/s with 50 in flight"
    )
    await limiter.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--checks", type=int, default=20_000)
    arguments = parser.parse_args()
    print(f"{arguments.checks} checks of two buckets each")
    await _report("in-process", MemoryRateLimiter(), arguments.checks)
    redis = RedisRateLimiter(arguments.redis, prefix=f"bench:{uuid.uuid4().hex}:")
    await _report("redis", redis, arguments.checks)


if __name__ == "__main__":
    asyncio.run(main())
