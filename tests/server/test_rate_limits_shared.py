"""Two server processes share one business's budget through Redis, exactly."""

from __future__ import annotations

import asyncio
import math
import os
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from server.settings import Settings
from server.store.crypto import CredentialCipher
from server.store.database import create_engine, migrate, session_factory
from server.store.repository import Store
from tests.live import running_server

pytestmark = pytest.mark.subprocess

BUSINESS_LIMIT = 20
REQUESTS = 200
KEYS = 4
SECRET = "shared-limit-test-secret-0123456789"


async def _prepare(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        store = Store(session_factory(engine), CredentialCipher(SECRET))
        business = await store.create_business("shared", "Shared Budget")
        keys = []
        for index in range(KEYS):
            _, key = await store.create_api_key(
                business.id, name=f"key {index}", scopes=["business:read"]
            )
            keys.append(key)
        return keys
    finally:
        await engine.dispose()


async def _fire(servers: list[str], keys: list[str]) -> tuple[list[tuple[int, int]], float]:
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(index: int) -> tuple[int, int]:
            server = index % len(servers)
            response = await client.post(
                f"{servers[server]}/@shared/api/graphql",
                json={"query": "{ activeBusiness { name } }"},
                headers={"Authorization": f"Bearer {keys[index % len(keys)]}"},
            )
            return server, response.status_code

        began = time.monotonic()
        # One request to each process first, in turn: a process slower to warm up (its
        # first key lookup) would otherwise find the shared budget spent by the other.
        warmed = [await one(i) for i in range(len(servers))]
        results = await asyncio.gather(*(one(i) for i in range(len(servers), REQUESTS)))
        return warmed + list(results), time.monotonic() - began


def test_two_processes_admit_no_more_than_the_business_limit_together(tmp_path: Path) -> None:
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set: the shared rate limit test needs Redis")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    keys = asyncio.run(_prepare(database_url))
    settings = {
        "BUSINESS_API_DATABASE_URL": database_url,
        "BUSINESS_API_SECRET_KEY": SECRET,
        "BUSINESS_API_REDIS_URL": redis_url,
        "BUSINESS_API_KEY_RATE_LIMIT": "1000",
        "BUSINESS_API_BUSINESS_RATE_LIMIT": str(BUSINESS_LIMIT),
    }
    Settings.from_environ(settings)  # the settings are valid before two servers use them
    with ExitStack() as stack:
        servers = [stack.enter_context(running_server(settings)) for _ in range(2)]
        results, elapsed = asyncio.run(_fire(servers, keys))

    admitted = [server for server, status in results if status == 200]
    refused = [status for _, status in results if status != 200]
    # A token refills every 60 / limit seconds; the burst is the limit itself.
    ceiling = BUSINESS_LIMIT + math.floor(elapsed * BUSINESS_LIMIT / 60)
    assert BUSINESS_LIMIT <= len(admitted) <= ceiling, (len(admitted), elapsed)
    assert set(refused) == {429}
    assert set(admitted) == {0, 1}, "both processes admitted requests"
