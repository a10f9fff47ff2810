"""Indexed connections over HTTP: served from the index with batched SQL and no provider
call, with `extensions.freshness`; a failing sync leaves the last good data serving."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.server.conftest import TREMBLE_CONTACTS, World

PAGE = """query($after: String) { activeBusiness { participants(first: 25, after: $after) {
  nodes { id name email registrations(first: 5) { nodes { id status confirmedAt
    activitySession { id } } } }
  pageInfo { hasNextPage endCursor } } } }"""


@pytest.fixture
def connected() -> dict[str, tuple[str, ...]]:
    return {"tremble": ("wix", "boxpressd"), "acme": ("wix",)}


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"key_rate_limit": 100_000, "business_rate_limit": 100_000}


@contextmanager
def statements(world: World) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = world.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def sync(world: World) -> None:
    """A pass of every indexed connection (the live ones' watch passes aside)."""
    for connection in await world.services.store.list_connections():
        if connection.mode == "indexed":
            for outcome in await world.services.sync.sync_all(connection=connection.public_id):
                assert outcome.synced, outcome


async def indexed_page(world: World) -> tuple[dict[str, Any], str]:
    """The first page holding only Boxpressd participants, and the cursor before it."""
    after = None
    for _ in range(TREMBLE_CONTACTS // 25 + 1):  # past Wix's participants
        body = (await world.query(PAGE, {"after": after})).json()
        after = body["data"]["activeBusiness"]["participants"]["pageInfo"]["endCursor"]
    return (await world.query(PAGE, {"after": after})).json(), after


async def test_an_indexed_page_costs_no_provider_call_and_one_query_per_relation(
    world: World,
) -> None:
    await sync(world)
    body, after = await indexed_page(world)
    assert "errors" not in body
    world.reset_counts()
    with statements(world) as seen:
        body = (await world.query(PAGE, {"after": after})).json()
    nodes = body["data"]["activeBusiness"]["participants"]["nodes"]
    assert len(nodes) == 25 and all(n["email"] is None for n in nodes)
    assert any(n["registrations"]["nodes"] for n in nodes)
    assert world.emulator("boxpressd").total_requests == 0
    index_queries = [s for s in seen if "index_" in s]
    assert len([s for s in index_queries if "FROM index_participants" in s]) == 1
    assert len([s for s in index_queries if "FROM index_registrations" in s]) == 1
    assert len(index_queries) == 2


async def test_freshness_is_present_exactly_when_an_indexed_connection_answered(
    world: World,
) -> None:
    await sync(world)
    live_only = (await world.query(PAGE)).json()
    assert "freshness" not in live_only["extensions"]
    body, _ = await indexed_page(world)
    [freshness] = body["extensions"]["freshness"]
    assert freshness["provider"] == "boxpressd"
    assert freshness["connection"] == world.connection_ids[("tremble", "boxpressd")]
    assert freshness["lastSyncedAt"].endswith("Z")


async def test_before_the_first_sync_the_index_is_empty_and_says_so(world: World) -> None:
    body, _ = await indexed_page(world)
    assert body["data"]["activeBusiness"]["participants"]["nodes"] == []
    assert body["extensions"]["freshness"][0]["lastSyncedAt"] is None


async def test_a_failing_sync_leaves_the_last_good_data_and_says_why(world: World) -> None:
    await sync(world)
    before, after = await indexed_page(world)
    stamp = before["extensions"]["freshness"][0]["lastSyncedAt"]
    world.emulator("boxpressd").faults.status = 500
    boxpressd = world.connection_ids[("tremble", "boxpressd")]
    [outcome] = await world.services.sync.sync_all(connection=boxpressd)
    assert not outcome.synced and outcome.error
    body = (await world.query(PAGE, {"after": after})).json()
    assert body["data"] == before["data"] and "errors" not in body
    assert body["extensions"]["freshness"][0]["lastSyncedAt"] == stamp
    status = await world.services.index.status()
    assert [s.last_error for s in status.values()] == [outcome.error]
