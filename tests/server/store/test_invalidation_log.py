"""The invalidation log servers read instead of flushing every cache on any change: numbered
without gaps in commit order, pruned, and honest when a reader can no longer be told
everything it missed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store import invalidation
from server.store.database import session_factory
from server.store.index import IndexStore
from server.store.invalidation import Invalidation
from server.store.repository import Store


async def test_concurrent_changes_get_one_revision_each_with_none_missing(store: Store) -> None:
    businesses = [await store.create_business(f"b{n}", f"B{n}") for n in range(8)]
    start = await store.revision()

    await asyncio.gather(*(store.set_rate_limit(b.id, 10) for b in businesses))

    newest, logged = await store.invalidations_since(start)
    assert newest == start + len(businesses)
    assert sorted(logged or [], key=lambda c: int(c.subject)) == [
        Invalidation.business(b.id) for b in businesses
    ]


async def test_a_finished_sync_is_logged_as_its_connection_alone_and_a_failed_one_not(
    store: Store, migrated_engine: AsyncEngine
) -> None:
    business = await store.create_business("synced", "Synced")
    connection = await store.add_connection(
        business.id,
        provider="sessions",
        base_url="https://sessions.example.com",
        account_id="a",
        credential="c",
        mode="indexed",
    )
    index = IndexStore(session_factory(migrated_engine))
    now = datetime.now(UTC)
    await index.take_lease(connection.id, "me", now, 60)
    start = await store.revision()

    await index.finished(connection.id, now, "the provider failed")
    await index.finished(connection.id, now, None)

    assert await store.invalidations_since(start) == (
        start + 1,
        [Invalidation.synced(connection.id)],
    )


async def test_a_reader_that_slept_through_pruned_changes_is_told_it_cannot_know(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invalidation, "KEPT_REVISIONS", 3)
    business = await store.create_business("pruned", "Pruned")
    start = await store.revision()
    for limit in range(1, 6):
        await store.set_rate_limit(business.id, limit)

    assert await store.invalidations_since(start) == (start + 5, None)  # the first two are gone
    assert await store.invalidations_since(start + 2) == (
        start + 5,
        [Invalidation.business(business.id)] * 3,
    )


async def test_a_reader_too_far_behind_is_told_to_start_afresh(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invalidation, "READ_AT_ONCE", 2)
    business = await store.create_business("behind", "Behind")
    start = await store.revision()
    for limit in range(1, 4):
        await store.set_rate_limit(business.id, limit)

    assert await store.invalidations_since(start) == (start + 3, None)
    assert await store.invalidations_since(start + 1) == (
        start + 3,
        [Invalidation.business(business.id)] * 2,
    )
