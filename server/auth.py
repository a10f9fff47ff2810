"""API key authentication, and the write-behind record of when each key was last used."""

from __future__ import annotations

import asyncio
import hmac
import logging
from datetime import UTC, datetime

from cachetools import LRUCache
from starlette.requests import Request

from schema.source import ApiKeyRecord, BusinessRecord
from server.store.repository import Store

log = logging.getLogger(__name__)


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


Authenticated = tuple[BusinessRecord, ApiKeyRecord]


class KeyCache:
    """Keys already verified, by the key presented, so that a warm request reads nothing
    from the store. A refused key is never kept. Every entry goes when the store says keys
    or businesses changed: at once in the process that made the change, and within
    `BUSINESS_API_STORE_POLL_SECONDS` in every other (the store watcher). Expiry is checked
    on every use."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._verified: LRUCache[str, Authenticated] = LRUCache(maxsize=max_entries)

    def get(self, token: str) -> Authenticated | None:
        return self._verified.get(token)

    def put(self, token: str, found: Authenticated) -> None:
        self._verified[token] = found

    def clear(self) -> None:
        self._verified.clear()


async def authenticate_key(
    request: Request, store: Store, keys: KeyCache, handle: str
) -> Authenticated | None:
    """The key's business and key, or None. A key used on another business's handle is
    refused exactly like an unknown key, so the answer never tells which handles exist."""
    token = bearer_token(request)
    if token is None:
        return None
    now = datetime.now(UTC)
    found = keys.get(token)
    if found is None:
        found = await store.authenticate(token, now=now)
        if found is None:
            return None
        keys.put(token, found)
    business, key = found
    if business.handle != handle or (key.expires_at is not None and key.expires_at <= now):
        return None
    return found


def is_admin(request: Request, admin_token: str) -> bool:
    token = bearer_token(request)
    return token is not None and hmac.compare_digest(token.encode(), admin_token.encode())


class KeyUseRecorder:
    """Collects last-used times in memory and writes them in one batch every few seconds,
    so authenticating a request never waits on a write."""

    def __init__(self, store: Store, interval_seconds: float) -> None:
        self._store = store
        self._interval = interval_seconds
        self._pending: dict[str, datetime] = {}

    def saw(self, key_id: str) -> None:
        self._pending[key_id] = datetime.now(UTC)

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if pending:
            await self._store.record_key_use(pending)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:
                log.exception("could not record API key use")
