"""The index's keyset reads stay within their own connection's rows: the end of one
business's list does not scan the rows of every connection listed after it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store.database import session_factory
from server.store.index import IndexStore
from server.store.models import IndexedParticipant
from server.store.repository import Store

SMALL, LARGE = 100, 20_000  # participants of the first connection, of the second
KEYSET_INDEX = "ix_index_participants_keyset"


async def _two_connections(store: Store, engine: AsyncEngine) -> tuple[int, int]:
    """A small business's connection and a large one's, the small one's participants all
    numbered before the large one's (as when the large one was crawled later); returns
    (the small one's id, its last number)."""
    ids = []
    for handle in ("first", "second"):
        business = await store.create_business(handle, handle.title())
        connection = await store.add_connection(
            business.id,
            provider="sessions",
            base_url="https://sessions.example.com",
            account_id=handle,
            credential="credential",
            mode="indexed",
        )
        ids.append(connection.id)
    async with engine.begin() as conn:
        for connection_id, rows in zip(ids, (SMALL, LARGE), strict=True):
            await conn.execute(
                insert(IndexedParticipant),
                [
                    {"connection_id": connection_id, "provider_id": f"p{n}", "name": f"N{n}"}
                    for n in range(rows)
                ],
            )
        await conn.execute(text("ANALYZE"))
        last = (
            await conn.execute(
                text("SELECT max(id) FROM index_participants WHERE connection_id = :c"),
                {"c": ids[0]},
            )
        ).scalar_one()
    return ids[0], int(last)


async def _statement_of_the_last_page(
    engine: AsyncEngine, connection_id: int, after: int
) -> tuple[str, Any]:
    """The SQL and parameters `IndexStore` sends for the page after `after`."""
    sent: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "FROM index_participants" in statement:
            sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        page = await IndexStore(session_factory(engine)).participants_after(
            connection_id, after, 11, "conn_first", "sessions"
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert page == []  # the end of the list
    [statement_and_parameters] = sent
    return statement_and_parameters


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def test_the_end_of_an_indexed_list_reads_only_its_connections_rows(
    store: Store, migrated_engine: AsyncEngine
) -> None:
    connection_id, last = await _two_connections(store, migrated_engine)
    statement, parameters = await _statement_of_the_last_page(migrated_engine, connection_id, last)

    async with migrated_engine.connect() as conn:
        if migrated_engine.dialect.name == "postgresql":
            explained = await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
            raw = explained.scalar_one()
            nodes = list(_nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]))
            [scan] = [node for node in nodes if "Index Name" in node]
            assert scan["Index Name"] == KEYSET_INDEX, nodes
            assert "connection_id" in scan["Index Cond"] and "id >" in scan["Index Cond"], scan
            assert not [node for node in nodes if "Filter" in node], nodes  # nothing sifted
            assert not [node for node in nodes if node["Node Type"] == "Sort"], nodes
        else:
            explained = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            details = [row[-1] for row in explained]
            assert details == [
                f"SEARCH index_participants USING INDEX {KEYSET_INDEX} (connection_id=? AND id>?)"
            ], details
