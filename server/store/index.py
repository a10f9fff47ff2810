"""The index of indexed connections, and their sync state, in the store.

Crawlers write what they found a batch at a time, with the checkpoint to resume from in
the same transaction, so a crawl interrupted at any point starts again after its last
committed batch. Reads are batched: one query per relation per page of participants.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schema.records import (
    ActivitySessionRecord,
    ParticipantKey,
    ParticipantRecord,
    RegistrationRecord,
)
from schema.scalars import Instant

from . import invalidation
from .invalidation import Invalidation
from .models import (
    IndexedParticipant,
    IndexedRegistration,
    IndexedSession,
    ProviderConnection,
    SyncState,
)


@dataclass(frozen=True)
class Found:
    """One batch of what a crawler found, and where to resume once it is committed."""

    participants: Sequence[ParticipantRecord] = ()
    sessions: Sequence[ActivitySessionRecord] = ()
    # (participant's provider id, registration, precedence)
    registrations: Sequence[tuple[str, RegistrationRecord, int]] = ()
    checkpoint: Any = None
    requests: int = 0


@dataclass(frozen=True)
class SyncStatus:
    connection_id: int
    last_started_at: datetime | None
    last_completed_at: datetime | None
    last_error: str | None
    participants: int
    registrations: int
    sessions: int
    requests: int


def _instant(value: str | None) -> Instant | None:
    return Instant(value) if value else None


class IndexStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # -- reading, for queries

    async def participants_after(
        self, connection_id: int, after: int, limit: int, connection: str, provider: str
    ) -> list[tuple[int, ParticipantRecord]]:
        """Up to `limit` participants listed after the one numbered `after` (0: the start),
        each with its number: the keyset they page by."""
        query = (
            select(IndexedParticipant)
            .where(IndexedParticipant.connection_id == connection_id)
            .where(IndexedParticipant.id > after)
            .order_by(IndexedParticipant.id)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        return [(row.id, self._participant(row, connection, provider)) for row in rows]

    @staticmethod
    def _participant(row: IndexedParticipant, connection: str, provider: str) -> ParticipantRecord:
        return ParticipantRecord(
            key=ParticipantKey(connection, row.provider_id),
            name=row.name,
            email=row.email,
            created_at=_instant(row.created_at),
            provider=provider,
        )

    async def participants_by_id(
        self, connection_id: int, ids: Sequence[str], connection: str, provider: str
    ) -> dict[str, ParticipantRecord]:
        query = select(IndexedParticipant).where(
            IndexedParticipant.connection_id == connection_id,
            IndexedParticipant.provider_id.in_(list(ids)),
        )
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        return {row.provider_id: self._participant(row, connection, provider) for row in rows}

    async def registrations_of(
        self, connection_id: int, participant_ids: Sequence[str]
    ) -> dict[str, list[RegistrationRecord]]:
        query = (
            select(IndexedRegistration)
            .where(IndexedRegistration.connection_id == connection_id)
            .where(IndexedRegistration.participant_id.in_(list(participant_ids)))
            .order_by(IndexedRegistration.created_at, IndexedRegistration.provider_id)
        )
        found: dict[str, list[RegistrationRecord]] = defaultdict(list)
        async with self._sessions() as session:
            for row in await session.scalars(query):
                found[row.participant_id].append(
                    RegistrationRecord(
                        provider_id=row.provider_id,
                        status=row.status,
                        confirmed_at=_instant(row.confirmed_at),
                        session_id=row.session_id,
                        created_at=_instant(row.created_at),
                    )
                )
        return found

    async def sessions_by_id(
        self, connection_id: int, ids: Sequence[str]
    ) -> dict[str, ActivitySessionRecord]:
        query = select(IndexedSession).where(
            IndexedSession.connection_id == connection_id,
            IndexedSession.provider_id.in_(list(ids)),
        )
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        return {
            row.provider_id: ActivitySessionRecord(
                provider_id=row.provider_id,
                title=row.title,
                starts_at=_instant(row.starts_at),
                ends_at=_instant(row.ends_at),
                capacity=row.capacity,
                status=row.status,
                created_at=_instant(row.created_at),
            )
            for row in rows
        }

    async def sessions_starting_between(
        self, connection_id: int, start: Instant, end: Instant
    ) -> list[str]:
        """The ids of the sessions starting in [start, end], by start time: what a crawler
        re-checks because their participants may still change."""
        query = (
            select(IndexedSession.provider_id)
            .where(IndexedSession.connection_id == connection_id)
            .where(IndexedSession.starts_at >= start, IndexedSession.starts_at <= end)
            .order_by(IndexedSession.starts_at, IndexedSession.provider_id)
        )
        async with self._sessions() as session:
            return list(await session.scalars(query))

    # -- writing, for crawlers

    async def commit(self, connection_id: int, found: Found, pace: Any = None) -> None:
        """Write a batch and its checkpoint (and the provider's pacing) in one transaction."""
        async with self._sessions() as session, session.begin():
            dialect = _dialect(session)
            if found.participants:
                await _upsert(
                    session,
                    dialect,
                    IndexedParticipant,
                    [
                        {
                            "connection_id": connection_id,
                            "provider_id": p.key.provider_id,
                            "name": p.name,
                            "email": p.email,
                            "created_at": p.created_at,
                        }
                        for p in _unique(found.participants, lambda p: p.key.provider_id)
                    ],
                    ["connection_id", "provider_id"],
                    ["name", "email"],
                    keep_unless_given=["name"],  # a sighting without a name erases none
                )
            if found.sessions:
                await _upsert(
                    session,
                    dialect,
                    IndexedSession,
                    [
                        {
                            "connection_id": connection_id,
                            "provider_id": s.provider_id,
                            "title": s.title,
                            "starts_at": s.starts_at,
                            "ends_at": s.ends_at,
                            "capacity": s.capacity,
                            "status": s.status,
                            "created_at": s.created_at,
                        }
                        for s in _unique(found.sessions, lambda s: s.provider_id)
                    ],
                    ["connection_id", "provider_id"],
                    ["title", "starts_at", "ends_at", "capacity", "status", "created_at"],
                )
            if found.registrations:
                rows = {
                    r.provider_id: {
                        "connection_id": connection_id,
                        "provider_id": r.provider_id,
                        "participant_id": participant,
                        "session_id": r.session_id,
                        "status": r.status,
                        "confirmed_at": r.confirmed_at,
                        "created_at": r.created_at,
                        "precedence": precedence,
                    }
                    for participant, r, precedence in sorted(
                        found.registrations, key=lambda item: item[2]
                    )
                }
                await _upsert(
                    session,
                    dialect,
                    IndexedRegistration,
                    list(rows.values()),
                    ["connection_id", "provider_id"],
                    ["status", "confirmed_at", "created_at", "precedence"],
                    only_if_not_outranked=True,
                )
            counts = await _counts(session, connection_id)
            await session.execute(
                update(SyncState)
                .where(SyncState.connection_id == connection_id)
                .values(
                    checkpoint=found.checkpoint,
                    pace=pace,
                    requests=SyncState.requests + found.requests,
                    **counts,
                )
            )

    # -- sync state and the lease

    async def status(self, connection_ids: Iterable[int] | None = None) -> dict[int, SyncStatus]:
        query = select(SyncState)
        if connection_ids is not None:
            query = query.where(SyncState.connection_id.in_(list(connection_ids)))
        async with self._sessions() as session:
            return {
                s.connection_id: SyncStatus(
                    s.connection_id,
                    s.last_started_at,
                    s.last_completed_at,
                    s.last_error,
                    s.participants,
                    s.registrations,
                    s.sessions,
                    s.requests,
                )
                for s in await session.scalars(query)
            }

    async def indexed_since(self) -> list[tuple[str, str, datetime]]:
        """(public id, provider, since) of every indexed connection: since its last
        completed sync, or since it was added while none has completed. One query, for
        the metrics' sync lag."""
        query = (
            select(
                ProviderConnection.public_id,
                ProviderConnection.provider,
                ProviderConnection.created_at,
                SyncState.last_completed_at,
            )
            .outerjoin(SyncState, SyncState.connection_id == ProviderConnection.id)
            .where(ProviderConnection.mode == "indexed")
            .order_by(ProviderConnection.id)
        )
        async with self._sessions() as session:
            rows = list(await session.execute(query))
        return [(public_id, provider, done or added) for public_id, provider, added, done in rows]

    async def checkpoint(self, connection_id: int) -> tuple[Any, Any]:
        """Where the last crawl stopped, and the provider's last word on its limits."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(SyncState.checkpoint, SyncState.pace).where(
                        SyncState.connection_id == connection_id
                    )
                )
            ).first()
        return (row[0], row[1]) if row else (None, None)

    async def take_lease(
        self, connection_id: int, owner: str, now: datetime, seconds: float
    ) -> bool:
        """Hold the connection's crawl until `now + seconds`, unless another owner holds an
        unexpired lease. One atomic UPDATE, so two processes never both win."""
        async with self._sessions() as session, session.begin():
            exists = await session.scalar(
                select(SyncState.connection_id).where(SyncState.connection_id == connection_id)
            )
            if exists is None:
                await _upsert(
                    session,
                    _dialect(session),
                    SyncState,
                    [
                        {
                            "connection_id": connection_id,
                            "participants": 0,
                            "registrations": 0,
                            "sessions": 0,
                            "requests": 0,
                        }
                    ],
                    ["connection_id"],
                    [],
                )
            result = await session.execute(
                update(SyncState)
                .where(SyncState.connection_id == connection_id)
                .where(
                    or_(
                        SyncState.lease_until.is_(None),
                        SyncState.lease_until < now,
                        SyncState.lease_owner == owner,
                    )
                )
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
            )
            return bool(getattr(result, "rowcount", 0))

    async def lease_until(self, connection_id: int) -> datetime | None:
        """When the connection's lease runs out, unless its holder renews it (None: held
        by nobody)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(SyncState.lease_until).where(SyncState.connection_id == connection_id)
            )

    async def save_pace(self, connection_id: int, pace: Any) -> None:
        """The provider's last word on its limits, kept when a pass ends between commits."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(SyncState).where(SyncState.connection_id == connection_id).values(pace=pace)
            )

    async def release_lease(self, connection_id: int, owner: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(SyncState)
                .where(SyncState.connection_id == connection_id, SyncState.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def started(self, connection_id: int, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(SyncState)
                .where(SyncState.connection_id == connection_id)
                .values(last_started_at=now)
            )

    async def finished(self, connection_id: int, now: datetime, error: str | None) -> None:
        """A crawl ended: caught up (`error` None) or stopped by a failure. Catching up is
        logged as a change of this connection alone, so every server reloads its freshness
        (`lastSyncedAt`) and nothing else it caches; a failure changes nothing they cache."""
        values: dict[str, Any] = (
            {"last_completed_at": now, "last_error": None, "last_error_at": None}
            if error is None
            else {"last_error": error, "last_error_at": now}
        )
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(SyncState).where(SyncState.connection_id == connection_id).values(**values)
            )
            if error is None:
                await invalidation.record(session, [Invalidation.synced(connection_id)])


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _unique(items: Iterable[Any], key: Any) -> list[Any]:
    """The last of each key: one statement may not write a row twice."""
    return list({key(item): item for item in items}.values())


async def _counts(session: AsyncSession, connection_id: int) -> dict[str, int]:
    counts = {}
    for name, model in (
        ("participants", IndexedParticipant),
        ("sessions", IndexedSession),
        ("registrations", IndexedRegistration),
    ):
        counts[name] = int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.connection_id == connection_id)
            )
            or 0
        )
    return counts


async def _upsert(
    session: AsyncSession,
    dialect: str,
    model: Any,
    rows: list[dict[str, Any]],
    keys: list[str],
    changes: list[str],
    *,
    only_if_not_outranked: bool = False,
    keep_unless_given: Sequence[str] = (),
) -> None:
    """INSERT … ON CONFLICT DO UPDATE, on SQLite and PostgreSQL alike. A column named in
    `keep_unless_given` keeps its value where the new row has none."""
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
                set_={
                    name: (
                        func.coalesce(statement.excluded[name], model.__table__.c[name])
                        if name in keep_unless_given
                        else statement.excluded[name]
                    )
                    for name in changes
                },
                where=where,
            )
        await session.execute(statement)
