"""The Redis backend: any number of server processes share the buckets.

Both buckets are read, judged and written by one Lua script, which Redis runs atomically,
with Redis's own clock, so N processes together admit no more than the limits allow.

If Redis fails, requests are judged by an in-process fallback instead (and Redis is tried
again after a pause). Traffic stays limited, per process, rather than either flowing
unlimited or failing: with P processes a business can get at most P times its limit while
Redis is down, and the failure is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.limits.in_process import MemoryRateLimiter
from server.limits.rate import Bucket, BucketState, Verdict, verdict

log = logging.getLogger(__name__)

# KEYS: bucket names. ARGV: for each bucket, its interval and tolerance in ms.
# Returns, per bucket: allowed (0/1), remaining, reset ms, retry ms (as strings: Lua numbers
# become integers in replies).
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local states = {}
local all_allowed = true
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - tolerance
  if now < allow_at then
    all_allowed = false
    states[i] = {0, 0, tat - now, allow_at - now, tat}
  else
    local remaining = math.floor((now + tolerance - new_tat) / interval + 1e-6)
    states[i] = {1, remaining, new_tat - now, 0, new_tat}
  end
end
local reply = {}
for i, key in ipairs(KEYS) do
  local s = states[i]
  if all_allowed then
    redis.call('SET', key, tostring(s[5]), 'PX', math.ceil(s[5] - now))
  end
  reply[i] = {s[1], tostring(s[2]), tostring(s[3]), tostring(s[4])}
end
return reply
"""

RETRY_REDIS_AFTER_SECONDS = 5.0
MAX_CONNECTIONS = 32


class RedisRateLimiter:
    def __init__(self, url: str, *, prefix: str = "business-api:rate:") -> None:
        self._client = aioredis.from_url(
            url, max_connections=MAX_CONNECTIONS, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        # A burst of requests waits its turn for a connection rather than overflowing the
        # pool (which would count as an outage and fall back).
        self._turns = asyncio.Semaphore(MAX_CONNECTIONS)
        self._script = self._client.register_script(GCRA_SCRIPT)
        self._prefix = prefix
        self._fallback = MemoryRateLimiter()
        self._down_until = 0.0

    async def check(self, buckets: Sequence[Bucket]) -> Verdict:
        if time.monotonic() < self._down_until:
            return await self._fallback.check(buckets)
        arguments: list[float] = []
        for bucket in buckets:
            arguments += [bucket.interval_ms, bucket.tolerance_ms]
        try:
            async with self._turns:
                reply = await self._script(
                    keys=[self._prefix + b.name for b in buckets], args=arguments
                )
        except (RedisError, OSError) as error:
            log.warning("Redis rate limiting unavailable, limiting in process: %s", error)
            self._down_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
            return await self._fallback.check(buckets)
        states = [
            BucketState(
                bucket=bucket,
                allowed=int(allowed) == 1,
                new_tat=0.0,
                remaining=int(float(remaining)),
                reset_ms=float(reset),
                retry_ms=float(retry),
            )
            for bucket, (allowed, remaining, reset, retry) in zip(buckets, reply, strict=True)
        ]
        return verdict(states)

    async def problem(self) -> str | None:
        """Why Redis cannot be used right now, or None (for `/readyz`)."""
        try:
            async with self._turns:
                await self._client.ping()
        except (RedisError, OSError) as error:
            return f"Redis does not answer ({type(error).__name__})"
        return None

    async def close(self) -> None:
        await self._client.aclose()
