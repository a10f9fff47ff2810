"""What a process keeps per business is bounded by BUSINESS_API_BUSINESS_CACHE_ENTRIES
and BUSINESS_API_KEY_CACHE_ENTRIES however many businesses it serves, and a removed
connection leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select
from starlette.requests import Request

from server.auth import authenticate_key
from server.services import Services
from server.store.keys import hash_secret
from server.store.models import ApiKey, Business, ProviderConnection
from tests.server.conftest import World

KEPT = 100
SECRET = "s" * 43


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"business_cache_entries": KEPT, "key_cache_entries": KEPT}


async def _many_businesses(services: Services, count: int) -> list[tuple[str, str]]:
    """`count` businesses, each with a live connection (one with an outbound budget and
    a breaker) and a key, written in bulk; returns (handle, key) of each."""
    credential = services.store._cipher.encrypt("sessionboard-key")
    now = datetime.now(UTC)
    async with services.engine.begin() as connection:
        await connection.execute(
            insert(Business),
            [{"public_id": f"biz_m{n}", "handle": f"m{n}", "name": f"M{n}", "created_at": now}
             for n in range(count)],
        )  # fmt: skip
        ids = dict(
            (
                await connection.execute(
                    select(Business.handle, Business.id).where(Business.handle.like("m%"))
                )
            ).all()  # fmt: skip
        )
        await connection.execute(
            insert(ProviderConnection),
            [{"public_id": f"conn_m{n}", "business_id": ids[f"m{n}"], "provider": "sessionboard",
              "base_url": "http://127.0.0.1:9/nowhere", "account_id": "a",
              "credential_encrypted": credential, "mode": "live", "position": 0, "created_at": now}
             for n in range(count)],
        )  # fmt: skip
        await connection.execute(
            insert(ApiKey),
            [{"key_id": f"{n:012x}", "business_id": ids[f"m{n}"], "name": "k",
              "secret_hash": hash_secret(SECRET), "scopes": ["business:read"], "created_at": now}
             for n in range(count)],
        )  # fmt: skip
    return [(f"m{n}", f"sk_{n:012x}_{SECRET}") for n in range(count)]


def _request(key: str) -> Request:
    return Request({"type": "http", "headers": [(b"authorization", f"Bearer {key}".encode())]})


@pytest.mark.parametrize("count", [300, pytest.param(5_000, marks=pytest.mark.slow)])
async def test_businesses_touched_then_removed_leave_state_bounded_by_the_setting(
    world: World, count: int
) -> None:
    services = world.services
    runtimes = services.runtimes
    for handle, key in await _many_businesses(services, count):
        found = await authenticate_key(_request(key), services.store, services.keys, handle)
        assert found is not None
        [runtime] = await runtimes.of(found[0])  # as the first request that lists participants
        assert runtime.breaker is not None
        await runtime.breaker.state()  # as its first provider call

    assert len(services.keys) == KEPT
    assert runtimes.sizes() == {
        "businesses": KEPT,
        "connections": KEPT,
        "budgets": KEPT,
        "breakers": KEPT,
    }

    kept = [b for b in await services.store.list_businesses() if b.handle.startswith("m")][-KEPT:]
    for business in kept:
        await services.store.remove_connection(f"conn_{business.handle}")
        assert await runtimes.of(business) == []
    assert runtimes.sizes() == {"businesses": KEPT, "connections": 0, "budgets": 0, "breakers": 0}
