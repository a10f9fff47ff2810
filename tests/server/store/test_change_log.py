"""The change log's numbers: strictly increasing within a business, no gap, no tie,
whoever writes at the same time (two engines on one database are two processes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.records import ParticipantKey, ParticipantRecord
from server.changes.events import Action, Change, Kind, gid
from server.changes.log import ChangeLog, append
from server.changes.tracking import Tracking
from server.store.database import create_engine, session_factory
from server.store.index import Found, IndexStore
from server.store.repository import Store

NOW = datetime(2026, 6, 1, 14, 32, 8, tzinfo=UTC)


def change(n: int, action: Action = Action.CREATED, kind: Kind = Kind.PARTICIPANT) -> Change:
    return Change(
        kind=kind,
        action=action,
        record_gid=gid(kind, "conn_a", f"r{n}"),
        participant_gid=gid(Kind.PARTICIPANT, "conn_a", f"p{n}"),
        connection="conn_a",
        provider="wix",
        observed_at=NOW,
        fields=("name",) if action is Action.UPDATED else (),
    )


async def another_process(engine: AsyncEngine) -> AsyncEngine:
    """A second engine on the same database (and, on PostgreSQL, the test's own schema)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return create_engine(url)
    async with engine.connect() as connection:
        schema = (await connection.execute(text("SHOW search_path"))).scalar_one()
    return create_engine(url, connect_args={"server_settings": {"search_path": schema}})


async def _write(engine: AsyncEngine, business_id: int, batches: int, size: int) -> list[int]:
    sessions = session_factory(engine)
    numbers: list[int] = []
    for batch in range(batches):
        async with sessions() as session, session.begin():
            numbers += await append(
                session, business_id, [change(batch * size + i) for i in range(size)]
            )
        await asyncio.sleep(0)  # let the other writer in between batches
    return numbers


async def test_two_writers_at_once_number_a_business_s_events_without_gap_or_tie(
    store: Store, migrated_engine: AsyncEngine
) -> None:
    business = await store.create_business("busy", "Busy")
    other = await store.create_business("other", "Other")
    second = await another_process(migrated_engine)
    try:
        first_numbers, second_numbers, others = await asyncio.gather(
            _write(migrated_engine, business.id, 20, 3),
            _write(second, business.id, 20, 2),
            _write(second, other.id, 5, 1),
        )
    finally:
        await second.dispose()
    together = sorted(first_numbers + second_numbers)
    assert together == list(range(1, 101))  # 60 + 40 events, numbered 1..100, each once
    assert first_numbers == sorted(first_numbers) and second_numbers == sorted(second_numbers)
    assert others == [1, 2, 3, 4, 5]  # another business counts on its own
    log = ChangeLog(session_factory(migrated_engine))
    read, more = await log.read(business.id, first=1000)
    assert [event.seq for event in read] == list(range(1, 101)) and not more


async def test_a_transaction_that_rolls_back_gives_its_numbers_back(
    store: Store, migrated_engine: AsyncEngine
) -> None:
    business = await store.create_business("undone", "Undone")
    sessions = session_factory(migrated_engine)
    async with sessions() as session, session.begin():
        assert await append(session, business.id, [change(1), change(2)]) == [1, 2]
        await session.rollback()
    async with sessions() as session, session.begin():
        assert await append(session, business.id, [change(3)]) == [1]


async def test_the_log_reads_after_a_number_by_topic_and_trims_to_its_retention(
    store: Store, migrated_engine: AsyncEngine
) -> None:
    business = await store.create_business("read", "Read")
    sessions = session_factory(migrated_engine)
    old = Change(**{**change(0).__dict__, "observed_at": NOW - timedelta(days=40)})
    async with sessions() as session, session.begin():
        await append(
            session,
            business.id,
            [old, change(1), change(2, Action.UPDATED), change(3, kind=Kind.REGISTRATION)],
        )
    log = ChangeLog(sessions)
    page, more = await log.read(business.id, after=1, first=2)
    assert [(e.seq, e.topic, e.fields) for e in page] == [
        (2, "participant.created", ()),
        (3, "participant.updated", ("name",)),
    ]
    assert more
    page, more = await log.read(business.id, topics=["registration.created"])
    assert [(e.seq, e.record_gid) for e in page] == [(4, gid(Kind.REGISTRATION, "conn_a", "r3"))]
    assert not more
    assert await log.trim(NOW - timedelta(days=30)) == 1
    assert [e.seq for e in (await log.read(business.id))[0]] == [2, 3, 4]


async def _crawl(
    engine: AsyncEngine, tracking: Tracking, batches: int, size: int, owner: str
) -> list[Change]:
    """What a crawl's commits detect: `batches` batches of `size` people never seen."""
    index = IndexStore(session_factory(engine))
    assert await index.take_lease(tracking.connection_id, owner, NOW, 60)
    detected: list[Change] = []
    for batch in range(batches):
        people = [
            ParticipantRecord(ParticipantKey(tracking.connection, f"{owner}{batch}.{i}"), "N", None)
            for i in range(size)
        ]
        detected += await index.commit(tracking.connection_id, Found(people), None, tracking)
        await asyncio.sleep(0)
    return detected


async def test_two_workers_detecting_on_one_business_number_its_events_without_gap_or_tie(
    store: Store, migrated_engine: AsyncEngine
) -> None:
    """Two processes' crawls of two connections of one business, committing at once:
    each batch's detection (read, write, compare, append) in one transaction."""
    business = await store.create_business("busy", "Busy")
    trackings = []
    for provider in ("sessions", "boxpressd"):
        connection = await store.add_connection(
            business.id,
            provider=provider,
            base_url="https://provider.example",
            account_id="venue/a" if provider == "boxpressd" else "",
            credential="key",
            mode="indexed",
        )
        trackings.append(
            Tracking(business.id, connection.id, connection.public_id, provider, 1, True, NOW)
        )
    second = await another_process(migrated_engine)
    try:
        first, other = await asyncio.gather(
            _crawl(migrated_engine, trackings[0], 15, 4, "one"),
            _crawl(second, trackings[1], 15, 3, "two"),
        )
    finally:
        await second.dispose()
    assert len(first) == 60 and len(other) == 45
    read, more = await ChangeLog(session_factory(migrated_engine)).read(business.id, first=1000)
    assert [event.seq for event in read] == list(range(1, 106)) and not more
    assert sorted(e.record_gid for e in read) == sorted(c.record_gid for c in first + other)
