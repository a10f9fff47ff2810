"""The warm request path: a document seen before is neither parsed nor checked nor
validated again, a verified key is not looked up again, and a warm request sends nothing
to the store; the caches stay bounded and a revoked key still stops working at once here
and within the store poll time in another process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

import schema.engine.execution
from tests.live import _command, _environ, running_server, store_with_business
from tests.server.conftest import ALL_SCOPES, World
from tests.server.documents import EXAMPLE_QUERY

CACHE_ENTRIES = 300


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"document_cache_entries": CACHE_ENTRIES}


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls = [0]
    original = getattr(schema.engine.execution, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(schema.engine.execution, name, counted)
    return calls


async def test_a_repeated_query_is_parsed_checked_and_validated_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = {
        name: _counting(monkeypatch, name) for name in ("parse", "check_operation", "validate")
    }
    for _ in range(5):
        response = await world.query(EXAMPLE_QUERY)
        assert "errors" not in response.json()
    assert {name: calls[0] for name, calls in counts.items()} == {
        "parse": 1,
        "check_operation": 1,
        "validate": 1,
    }


@pytest.mark.slow
async def test_a_flood_of_distinct_queries_leaves_the_cache_at_its_bound(world: World) -> None:
    executor = world.services.executor
    scopes = frozenset(ALL_SCOPES)
    for batch in range(100):
        await asyncio.gather(
            *(
                executor.checked(f"{{ activeBusiness {{ n{batch}_{i}: name }} }}", scopes)
                for i in range(100)
            )
        )
        assert len(executor.cache) <= CACHE_ENTRIES
    assert len(executor.cache) == CACHE_ENTRIES
    assert executor.cache.size_bytes <= world.services.settings.document_cache_bytes


async def test_a_warm_request_sends_nothing_to_the_store(world: World) -> None:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = world.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert "errors" not in (await world.query(EXAMPLE_QUERY)).json()
        assert statements  # the first request looked up the key and the connection
        statements.clear()
        for _ in range(3):
            assert "errors" not in (await world.query(EXAMPLE_QUERY)).json()
        assert statements == []
    finally:
        event.remove(engine, "before_cursor_execute", seen)


async def test_a_key_revoked_in_this_process_stops_working_at_once(world: World) -> None:
    assert (await world.query("{ activeBusiness { name } }")).status_code == 200
    key_id = world.keys["tremble"].split("_")[1]
    await world.services.store.revoke_api_key(key_id, now=datetime.now(UTC))
    refused = await world.query("{ activeBusiness { name } }")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


POLL_SECONDS = 0.5


@pytest.mark.subprocess
def test_a_key_revoked_by_another_process_stops_working_within_the_poll_time(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    secret = "lean-path-tests-secret-0123456789"
    key = asyncio.run(store_with_business(url, secret, ["business:read"]))
    settings = {
        "BUSINESS_API_DATABASE_URL": url,
        "BUSINESS_API_SECRET_KEY": secret,
        "BUSINESS_API_STORE_POLL_SECONDS": str(POLL_SECONDS),
    }
    body = {"query": "{ activeBusiness { name } }"}
    headers = {"Authorization": f"Bearer {key}"}
    with running_server(settings) as base_url:
        endpoint = f"{base_url}/@tremble/api/graphql"
        for _ in range(3):  # verified once, then answered from the key cache
            assert httpx.post(endpoint, json=body, headers=headers).status_code == 200
        revoke = subprocess.run(
            [*_command(), "keys", "revoke", key.split("_")[1]],
            env=_environ(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert revoke.returncode == 0, revoke.stderr
        revoked_at = time.monotonic()
        while httpx.post(endpoint, json=body, headers=headers).status_code == 200:
            assert time.monotonic() - revoked_at < POLL_SECONDS + 1.0
            time.sleep(0.05)
        refused = httpx.post(endpoint, json=body, headers=headers)
    assert refused.status_code == 401


@pytest.mark.subprocess
def test_two_workers_serve_one_port(tmp_path: Path) -> None:
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set: the rate limits of workers need Redis")
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    secret = "lean-path-tests-secret-0123456789"
    key = asyncio.run(store_with_business(url, secret, ["business:read"]))
    settings = {
        "BUSINESS_API_DATABASE_URL": url,
        "BUSINESS_API_SECRET_KEY": secret,
        "BUSINESS_API_REDIS_URL": redis_url,
    }
    headers = {"Authorization": f"Bearer {key}"}
    with running_server(settings, "--workers", "2") as base_url:
        answers = [
            httpx.post(
                f"{base_url}/@tremble/api/graphql",
                json={"query": "{ activeBusiness { name } }"},
                headers=headers,
            )
            for _ in range(20)
        ]
    assert all(a.json()["data"] == {"activeBusiness": {"name": "Tremble Studios"}} for a in answers)
