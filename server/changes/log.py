"""The change log: each business's changes, numbered without gap or tie.

A batch of changes is appended inside the transaction that detected them (the crawl's
commit, the watch pass's fingerprints), so the log and what it was compared with never
disagree. Its numbers come from the business's own counter, moved by one `UPDATE …
RETURNING` in the same transaction: the row stays locked until the transaction ends, so
concurrent writers (two server processes, a server and `business-api sync`) take turns,
and a transaction that rolls back gives its numbers back. No two events of a business
share a number and none is skipped, so a reader resumes after any event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schema.source import ChangeEventRecord
from server.changes.events import Change
from server.observability.metrics import CHANGE_EVENTS
from server.store.models import Business, ChangeEvent

log = logging.getLogger(__name__)


async def append(session: AsyncSession, business_id: int, changes: Sequence[Change]) -> list[int]:
    """Log `changes` in the session's transaction, in order; their sequence numbers."""
    if not changes:
        return []
    last = int(
        (
            await session.execute(
                update(Business)
                .where(Business.id == business_id)
                .values(change_seq=Business.change_seq + len(changes))
                .returning(Business.change_seq)
            )
        ).scalar_one()
    )
    first = last - len(changes) + 1
    await session.execute(
        insert(ChangeEvent),
        [
            {
                "business_id": business_id,
                "seq": first + i,
                "topic": change.topic,
                "record_gid": change.record_gid,
                "participant_gid": change.participant_gid,
                "connection": change.connection,
                "provider": change.provider,
                "occurred_at": change.occurred_at,
                "observed_at": change.observed_at,
                "fields": list(change.fields),
            }
            for i, change in enumerate(changes)
        ],
    )
    return list(range(first, last + 1))


def counted(changes: Sequence[Change]) -> None:
    """Count changes once the transaction that logged them committed."""
    for change in changes:
        CHANGE_EVENTS.labels(change.topic, change.provider).inc()


def _record(row: ChangeEvent) -> ChangeEventRecord:
    return ChangeEventRecord(
        seq=row.seq,
        topic=row.topic,
        record_gid=row.record_gid,
        participant_gid=row.participant_gid,
        connection=row.connection,
        provider=row.provider,
        occurred_at=row.occurred_at,
        observed_at=row.observed_at,
        fields=tuple(row.fields),
    )


class ChangeLog:
    """Reading the log, and trimming it to its retention."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def read(
        self,
        business_id: int,
        *,
        after: int = 0,
        first: int = 100,
        topics: Sequence[str] | None = None,
    ) -> tuple[list[ChangeEventRecord], bool]:
        """Up to `first` events after sequence number `after`, in order, and whether more
        follow."""
        query = (
            select(ChangeEvent)
            .where(ChangeEvent.business_id == business_id, ChangeEvent.seq > after)
            .order_by(ChangeEvent.seq)
            .limit(first + 1)
        )
        if topics:
            query = query.where(ChangeEvent.topic.in_(list(topics)))
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        return [_record(row) for row in rows[:first]], len(rows) > first

    async def trim(self, before: datetime) -> int:
        """Forget the events observed before `before`; how many went."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(ChangeEvent).where(ChangeEvent.observed_at < before)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def trim_every(
        self,
        retention: timedelta,
        also: Callable[[datetime], Awaitable[int]] | None = None,
        every_seconds: float = 3600.0,
    ) -> None:
        """The background trimming of `serve` and `demo`: every hour, what is older than
        the retention goes (and, with `also`, what else is kept as long: webhook
        deliveries)."""
        while True:
            before = datetime.now(UTC) - retention
            try:
                await self.trim(before)
                if also is not None:
                    await also(before)
            except Exception:
                log.exception("could not trim the change log")
            await asyncio.sleep(every_seconds)
