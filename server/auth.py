"""API key authentication, and the write-behind record of when each key was last used."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from cachetools import LRUCache
from starlette.requests import Request

from schema.source import ApiKeyRecord, BusinessRecord
from server.store.availability import StoreUnavailable
from server.store.repository import Store

log = logging.getLogger(__name__)


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


Authenticated = tuple[BusinessRecord, ApiKeyRecord]


class KeyCache:
    """Keys already verified, by the key presented, so that a warm request reads nothing
    from the store. A refused key is never kept, and at most `max_entries` are (the least
    recently used go first). An entry goes when the store's invalidation log names its key or
    its business: at once in the process that made the change, and within
    `BUSINESS_API_STORE_POLL_SECONDS` in every other (the store watcher). Expiry is
    checked on every use.

    A key verified while a change was being applied is not kept (`generation`): its
    business or key may have been read from the store just before the change."""

    def __init__(self, max_entries: int) -> None:
        self._verified: LRUCache[str, Authenticated] = LRUCache(maxsize=max_entries)
        self.generation = 0  # moves whenever entries are dropped

    def __len__(self) -> int:
        return len(self._verified)

    def get(self, token: str) -> Authenticated | None:
        return self._verified.get(token)

    def put(self, token: str, found: Authenticated, generation: int) -> None:
        """Keep `found`, verified from the store after `generation` was read."""
        if generation == self.generation:
            self._verified[token] = found

    def drop_key(self, key_id: str) -> None:
        self._drop(lambda business, key: key.key_id == key_id)

    def drop_business(self, business_id: int) -> None:
        self._drop(lambda business, key: business.id == business_id)

    def _drop(self, matches: Callable[[BusinessRecord, ApiKeyRecord], bool]) -> None:
        """A scan of the entries: changes are rare next to requests, and a second index
        by key id or business would have to follow the LRU's evictions."""
        self.generation += 1
        for token in [t for t, (b, k) in self._verified.items() if matches(b, k)]:
            del self._verified[token]

    def clear(self) -> None:
        self.generation += 1
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
        generation = keys.generation
        found = await store.authenticate(token, now=now)
        if found is None:
            return None
        keys.put(token, found, generation)
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
        if not pending:
            return
        try:
            await self._store.record_key_use(pending)
        except StoreUnavailable:
            # Kept for the next flush (the newer time of each key wins); the outage is
            # logged once by the store, not every few seconds here.
            self._pending = {**pending, **self._pending}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:
                log.exception("could not record API key use")
