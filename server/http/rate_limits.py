"""Rate limits at the HTTP edge: which buckets a request draws from, and the headers."""

from __future__ import annotations

from starlette.responses import JSONResponse

from schema.errors import ErrorCode
from schema.source import ApiKeyRecord, BusinessRecord
from server.http.responses import error_response
from server.limits.rate import Bucket, Verdict
from server.settings import Settings


def buckets_for(business: BusinessRecord, key: ApiKeyRecord, settings: Settings) -> list[Bucket]:
    """The key's own bucket and its business's, which all the business's keys share."""
    business_limit = business.rate_limit_per_minute or settings.business_rate_limit
    return [
        Bucket("key", f"key:{key.key_id}", settings.key_rate_limit),
        Bucket("business", f"business:{business.public_id}", business_limit),
    ]


def rate_headers(verdict: Verdict) -> dict[str, str]:
    headers = {
        "RateLimit-Limit": str(verdict.limit),
        "RateLimit-Remaining": str(verdict.remaining),
        "RateLimit-Reset": str(verdict.reset_seconds),
    }
    if not verdict.allowed:
        headers["Retry-After"] = str(verdict.retry_after)
    return headers


def rate_limited(verdict: Verdict, media_type: str) -> JSONResponse:
    scope = {
        "key": "this API key",
        "business": "this business (all its keys)",
        "address": "requests with a wrong API key from this address",
    }[verdict.scope or "key"]
    return error_response(
        429,
        f"Rate limit exceeded for {scope}: retry after {verdict.retry_after} seconds.",
        ErrorCode.RATE_LIMITED,
        headers=rate_headers(verdict),
        media_type=media_type,
        retryAfter=verdict.retry_after,
        scope=verdict.scope,
    )
