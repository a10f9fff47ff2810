"""API key authentication, and the write-behind record of when each key was last used."""

from __future__ import annotations

import asyncio
import hmac
import logging
from datetime import UTC, datetime

from starlette.requests import Request

from schema.source import ApiKeyRecord, BusinessRecord
from server.store.repository import Store

log = logging.getLogger(__name__)


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def authenticate_key(
    request: Request, store: Store, handle: str
) -> tuple[BusinessRecord, ApiKeyRecord] | None:
    """The key's business and key, or None. A key used on another business's handle is
    refused exactly like an unknown key, so the answer never tells which handles exist."""
    token = bearer_token(request)
    if token is None:
        return None
    found = await store.authenticate(token, now=datetime.now(UTC))
    if found is None or found[0].handle != handle:
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
