"""A change drops only what it names from the caches of every process: a key minted or a
sync finished elsewhere leaves every warm key warm, a key revoked elsewhere stops
working once the watcher looks (and nothing else is read again), a limit changed
elsewhere reaches only that business's keys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from server.store.crypto import CredentialCipher
from server.store.database import create_engine, session_factory
from server.store.index import IndexStore
from server.store.invalidation import Invalidation
from server.store.repository import Store
from tests.server.conftest import ALL_SCOPES, World

NAME = "{ activeBusiness { name } }"
PARTICIPANTS = "{ activeBusiness { participants(first: 1) { nodes { id } } } }"
WARM_KEYS = 20


@pytest.fixture
def connected() -> dict[str, tuple[str, ...]]:
    return {"tremble": ("wix", "boxpressd"), "acme": ("wix",)}


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"key_rate_limit": 100_000, "business_rate_limit": 100_000}


@pytest.fixture
async def elsewhere(world: World) -> AsyncIterator[tuple[Store, IndexStore]]:
    """The store as another process (a CLI, another server) sees it: its own engine."""
    settings = world.services.settings
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        yield Store(sessions, CredentialCipher(str(settings.secret_key))), IndexStore(sessions)
    finally:
        await engine.dispose()


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


async def _warm_keys(world: World) -> list[tuple[str, str]]:
    """(handle, key) of many keys of both businesses, each used once (so cached), the
    watcher's first look taken."""
    store = world.services.store
    keys = [("tremble", world.keys["tremble"]), ("acme", world.keys["acme"])]
    for n in range(WARM_KEYS):
        handle = ("tremble", "acme")[n % 2]
        _, key = await store.create_api_key(
            world.business_ids[handle], name=f"k{n}", scopes=ALL_SCOPES
        )
        keys.append((handle, key))
    await world.services.watcher.check()
    await _queries_per_request(world, keys, PARTICIPANTS)
    return keys


async def _queries_per_request(
    world: World, keys: list[tuple[str, str]], query: str = NAME
) -> dict[str, int]:
    """Statements sent to the store for what servers cache (keys, businesses and their
    connections; not the index's rows), by business, for one request with each key."""
    sent: dict[str, int] = {}
    for handle, key in keys:
        with statements(world) as seen:
            answered = await world.query(query, key=key, handle=handle)
            assert answered.status_code == 200 and "errors" not in answered.json()
        cached = [s for s in seen if "api_keys" in s or "provider_connections" in s]
        sent[handle] = sent.get(handle, 0) + len(cached)
    return sent


async def test_a_key_minted_in_another_process_leaves_every_other_keys_cache_warm(
    world: World, elsewhere: tuple[Store, IndexStore]
) -> None:
    keys = await _warm_keys(world)
    store, _ = elsewhere

    await store.create_api_key(world.business_ids["tremble"], name="new", scopes=ALL_SCOPES)
    await world.services.watcher.check()

    assert await _queries_per_request(world, keys) == {"tremble": 0, "acme": 0}


async def test_a_sync_finished_anywhere_reloads_its_business_once_and_no_key(
    world: World, elsewhere: tuple[Store, IndexStore]
) -> None:
    keys = await _warm_keys(world)
    connection = (await world.services.store.connection_configs(world.business_ids["tremble"]))[
        1
    ].connection
    assert connection.mode == "indexed"
    _, index = elsewhere

    for outcome in await world.services.sync.sync_all():  # here
        assert outcome.synced, outcome
    assert await _queries_per_request(world, keys, PARTICIPANTS) == {"tremble": 1, "acme": 0}
    await index.finished(connection.id, datetime.now(UTC), None)  # elsewhere
    assert await world.services.watcher.check() is True

    assert await _queries_per_request(world, keys, PARTICIPANTS) == {"tremble": 1, "acme": 0}
    assert await _queries_per_request(world, keys, PARTICIPANTS) == {"tremble": 0, "acme": 0}


async def test_a_key_revoked_in_another_process_stops_working_once_the_watcher_looks(
    world: World, elsewhere: tuple[Store, IndexStore]
) -> None:
    keys = await _warm_keys(world)
    store, _ = elsewhere
    revoked = world.keys["tremble"]

    await store.revoke_api_key(revoked.split("_")[1], now=datetime.now(UTC))
    assert (await world.query(NAME)).status_code == 200  # until the watcher looks
    await world.services.watcher.check()

    assert (await world.query(NAME)).status_code == 401
    others = [(handle, key) for handle, key in keys if key != revoked]
    assert await _queries_per_request(world, others) == {"tremble": 0, "acme": 0}


async def test_a_limit_changed_in_another_process_reaches_that_business_keys_alone(
    world: World, elsewhere: tuple[Store, IndexStore]
) -> None:
    keys = await _warm_keys(world)
    store, _ = elsewhere

    await store.set_rate_limit(world.business_ids["acme"], 5000)
    await world.services.watcher.check()

    answered = await world.query(NAME, key="acme", handle="acme")
    assert answered.headers["ratelimit-limit"] == "5000"
    acme_keys = sum(1 for handle, _ in keys if handle == "acme")
    sent = await _queries_per_request(world, keys)
    assert sent == {"tremble": 0, "acme": acme_keys - 1}  # each verified again, once


async def test_what_was_read_before_a_change_applied_meanwhile_is_not_kept(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store answered with the key and its business, then the watcher applied a change
    of that business before the answer was kept: kept, it would outlive the change."""
    store = world.services.store
    authenticate = store.authenticate
    tremble = world.business_ids["tremble"]

    async def answered_then_changed(*args: Any, **kwargs: Any) -> Any:
        found = await authenticate(*args, **kwargs)
        world.services.cached.apply([Invalidation.business(tremble)])
        return found

    monkeypatch.setattr(store, "authenticate", answered_then_changed)
    assert (await world.query(NAME)).status_code == 200
    assert len(world.services.keys) == 0
    monkeypatch.setattr(store, "authenticate", authenticate)
    assert (await world.query(NAME)).status_code == 200
    assert len(world.services.keys) == 1
