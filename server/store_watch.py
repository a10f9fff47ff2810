"""Noticing changes made by other processes (a CLI, another server) without a store query
per request: one cheap query in the background every few seconds reads the store
revision, and a change makes the caches that depend on it start afresh."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from server.store.repository import Store

log = logging.getLogger(__name__)


class StoreWatcher:
    def __init__(
        self, store: Store, interval_seconds: float, listeners: Sequence[Callable[[], None]]
    ) -> None:
        self._store = store
        self._interval = interval_seconds
        self._listeners = list(listeners)
        self._seen: int | None = None

    async def check(self) -> bool:
        """Read the revision; on a change since the last look, tell every listener."""
        revision = await self._store.revision()
        changed = self._seen is not None and revision != self._seen
        self._seen = revision
        if changed:
            for listener in self._listeners:
                listener()
        return changed

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("could not read the store revision")
            await asyncio.sleep(self._interval)
