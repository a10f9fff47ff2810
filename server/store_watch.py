"""Noticing changes made by other processes (a CLI, another server) without a store query
per request: one cheap query in the background every few seconds reads the invalidation log
after the last revision seen, and each change drops only what it names from this
process's caches (one key, one business's keys or connections, one connection's
freshness)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from server.auth import KeyCache
from server.runtimes import Runtimes
from server.store.availability import StoreUnavailable
from server.store.invalidation import Invalidation, InvalidationKind
from server.store.repository import Store

log = logging.getLogger(__name__)


class CachedState:
    """What this process keeps from the store, and how each kind of change reaches it."""

    def __init__(self, keys: KeyCache, runtimes: Runtimes) -> None:
        self._keys = keys
        self._runtimes = runtimes

    def apply(self, changes: Sequence[Invalidation]) -> None:
        for change in changes:
            if change.kind is InvalidationKind.KEY:
                self._keys.drop_key(change.subject)
            elif change.kind is InvalidationKind.BUSINESS:
                self._keys.drop_business(int(change.subject))  # keys carry their business
                self._runtimes.business_changed(int(change.subject))
            elif change.kind is InvalidationKind.CONNECTIONS:
                self._runtimes.business_changed(int(change.subject))
            elif change.kind is InvalidationKind.SYNCED:
                self._runtimes.connection_synced(int(change.subject))

    def forget_all(self) -> None:
        """When what changed cannot be told: everything is read afresh."""
        self._keys.clear()
        self._runtimes.invalidate()


class StoreWatcher:
    def __init__(self, store: Store, interval_seconds: float, caches: CachedState) -> None:
        self._store = store
        self._interval = interval_seconds
        self._caches = caches
        self._seen: int | None = None

    async def check(self) -> bool:
        """Apply what changed since the last look; True if anything did. The first look
        only learns the revision, and drops whatever was cached before it (of unknown age:
        requests may be served before the watcher first reads the store)."""
        if self._seen is None:
            self._seen = await self._store.revision()
            self._caches.forget_all()
            return False
        self._seen, changes = await self._store.invalidations_since(self._seen)
        if changes is None:
            log.warning("too many store changes since the last look: every cache starts afresh")
            self._caches.forget_all()
            return True
        self._caches.apply(changes)
        return bool(changes)

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except StoreUnavailable:
                pass  # logged once by the store; looked for again at the next poll
            except Exception:
                log.exception("could not read the store's changes")
            await asyncio.sleep(self._interval)
