"""INSERT … ON CONFLICT DO UPDATE, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def upsert(
    session: AsyncSession,
    model: Any,
    rows: list[dict[str, Any]],
    keys: list[str],
    changes: list[str],
    *,
    only_if_not_outranked: bool = False,
    keep_unless_given: Sequence[str] = (),
    keep_first: Sequence[str] = (),
) -> None:
    """INSERT … ON CONFLICT DO UPDATE, on SQLite and PostgreSQL alike. A column named in
    `keep_unless_given` keeps its value where the new row has none; one named in
    `keep_first` keeps any value it has."""

    def _updated(column: str) -> Any:
        new, old = statement.excluded[column], model.__table__.c[column]
        if column in keep_unless_given:
            return func.coalesce(new, old)
        if column in keep_first:
            return func.coalesce(old, new)
        return new

    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(rows), 500):  # keeps each statement's parameters bounded
        statement = insert(model).values(rows[start : start + 500])
        if not changes:
            statement = statement.on_conflict_do_nothing(index_elements=keys)
        else:
            where = None
            if only_if_not_outranked:
                where = model.__table__.c.precedence <= statement.excluded.precedence
            statement = statement.on_conflict_do_update(
                index_elements=keys,
                set_={name: _updated(name) for name in changes},
                where=where,
            )
        await session.execute(statement)
