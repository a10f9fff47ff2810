"""The index of indexed connections, and their sync state, in the store.

Crawlers write what they found a batch at a time, with the checkpoint to resume from in
the same transaction, so a crawl interrupted at any point starts again after its last
committed batch. Reads are batched: one query per relation per page of participants.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schema.records import (
    ActivitySessionRecord,
    ParticipantKey,
    ParticipantRecord,
    RegistrationRecord,
)
from schema.scalars import Instant
from server.changes import fingerprints, indexed, log
from server.changes.events import Change
from server.changes.fingerprints import Fingerprinter
from server.changes.tracking import Tracking
from server.providers.watched import Seen

from . import invalidation
from .invalidation import Invalidation
from .models import (
    IndexedParticipant,
    IndexedRegistration,
    IndexedSession,
    ProviderConnection,
    SyncState,
)
from .upsert import upsert


@dataclass(frozen=True)
class Found:
    """One batch of what a crawler found, and where to resume once it is committed."""

    participants: Sequence[ParticipantRecord] = ()
    sessions: Sequence[ActivitySessionRecord] = ()
    # (participant's provider id, registration, precedence)
    registrations: Sequence[tuple[str, RegistrationRecord, int]] = ()
    checkpoint: Any = None
    requests: int = 0


# Finds and forgets what a full pass never found, in its transaction.
Removed = Callable[[AsyncSession, Tracking], Awaitable[list[Change]]]


@dataclass(frozen=True)
class Plan:
    """Where a pass of a connection starts, and whether it is a full one (which finds
    what was removed) or the connection's first (which records and emits nothing)."""

    checkpoint: Any
    pace: Any
    full_pass: int
    full: bool
    first: bool


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


class Outbox(Protocol):
    """Where logged changes become deliveries, in the transaction that logged them."""

    async def enqueue(
        self,
        session: AsyncSession,
        business_id: int,
        changes: Sequence[Change],
        seqs: Sequence[int],
    ) -> int: ...


class IndexStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox | None = None
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox

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

    async def commit(
        self,
        connection_id: int,
        found: Found,
        pace: Any = None,
        tracking: Tracking | None = None,
    ) -> list[Change]:
        """Write a batch and its checkpoint (and the provider's pacing) in one transaction;
        with `tracking`, what the batch changed in the index, logged in it too."""
        async with self._sessions() as session, session.begin():
            # A write first: on SQLite it takes the store's write lock before anything is
            # read, so two writers take turns rather than one failing on a lock it cannot
            # upgrade; on PostgreSQL it holds this connection's state row.
            await session.execute(
                update(SyncState)
                .where(SyncState.connection_id == connection_id)
                .values(
                    checkpoint=found.checkpoint,
                    pace=pace,
                    requests=SyncState.requests + found.requests,
                )
            )
            batch = None
            if tracking is not None:
                batch = indexed.Batch(
                    tracking,
                    [p.key.provider_id for p in found.participants],
                    [r.provider_id for _, r, _ in found.registrations],
                )
                await batch.before(session)
            if found.participants:
                await upsert(
                    session,
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
                    # A person is known by their email in any case: the first sighting's
                    # spelling stays, so a pass over the same people changes nothing.
                    keep_first=["email"],
                )
            if found.sessions:
                await upsert(
                    session,
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
                await upsert(
                    session,
                    IndexedRegistration,
                    list(rows.values()),
                    ["connection_id", "provider_id"],
                    ["status", "confirmed_at", "created_at", "precedence"],
                    only_if_not_outranked=True,
                )
            counts = await _counts(session, connection_id)
            await session.execute(
                update(SyncState).where(SyncState.connection_id == connection_id).values(**counts)
            )
            if batch is None or tracking is None:
                return []
            return await self._logged(session, tracking, await batch.after(session))

    async def watched(
        self,
        tracking: Tracking,
        seen: Sequence[Seen],
        fingerprinter: Fingerprinter,
        watermark: Any = None,
    ) -> list[Change]:
        """Compare a live connection's batch with its fingerprints, keep the new ones and
        the watermark to resume from (None: unchanged), and log what changed: one
        transaction."""
        async with self._sessions() as session, session.begin():
            await session.execute(  # a write first, as in `commit`
                update(SyncState)
                .where(SyncState.connection_id == tracking.connection_id)
                .values(checkpoint=SyncState.checkpoint if watermark is None else watermark)
            )
            changes = await fingerprints.compared(session, tracking, seen, fingerprinter)
            return await self._logged(session, tracking, changes)

    # -- full passes, which find what was removed

    async def plan(
        self, connection_id: int, now: datetime, full_every: timedelta, *, restart: bool
    ) -> Plan:
        """What this pass of the connection is: a full pass starts when none is under way
        and the last one ended `full_every` ago (or none has ended: the connection's
        first); an indexed connection's crawl then starts afresh (`restart`)."""
        starts = (SyncState.full_pass == SyncState.full_pass_done) & or_(
            SyncState.full_pass_done == 0,
            SyncState.last_full_at.is_(None),
            SyncState.last_full_at <= now - full_every,
        )
        values: dict[str, Any] = {"full_pass": SyncState.full_pass + 1}
        if restart:
            values["checkpoint"] = None
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(SyncState)
                .where(SyncState.connection_id == connection_id)
                .where(starts)
                .values(**values)
            )
            row = (
                await session.execute(
                    select(
                        SyncState.checkpoint,
                        SyncState.pace,
                        SyncState.full_pass,
                        SyncState.full_pass_done,
                    ).where(SyncState.connection_id == connection_id)
                )
            ).one()
        checkpoint, pace, full_pass, done = row
        return Plan(checkpoint, pace, full_pass, full=full_pass > done, first=done == 0)

    async def full_pass_ended(self, tracking: Tracking, removed: Removed) -> list[Change]:
        """A full pass ran to its end: what it never found is removed (`removed` finds and
        forgets it), logged as `deleted` in the same transaction."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(SyncState)
                .where(SyncState.connection_id == tracking.connection_id)
                .values(full_pass_done=tracking.full_pass, last_full_at=tracking.observed_at)
            )
            return await self._logged(session, tracking, await removed(session, tracking))

    async def _logged(
        self, session: AsyncSession, tracking: Tracking, changes: list[Change]
    ) -> list[Change]:
        """Append `changes` to the change log, and their deliveries to the outbox, in the
        session's transaction, unless the pass may not speak (a connection's first); what
        was logged."""
        if not tracking.emit or not changes:
            return []
        seqs = await log.append(session, tracking.business_id, changes)
        if self._outbox is not None:
            await self._outbox.enqueue(session, tracking.business_id, changes, seqs)
        return changes

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

    async def indexed_since(self) -> list[tuple[str, str, str, datetime]]:
        """(public id, provider, mode, since) of every connection the sync worker passes
        over: indexed ones, and live ones it has watched. Since their last pass that
        caught up, or since they were added while none has. One query, for the metrics'
        lags."""
        query = (
            select(
                ProviderConnection.public_id,
                ProviderConnection.provider,
                ProviderConnection.mode,
                ProviderConnection.created_at,
                SyncState.last_completed_at,
            )
            .outerjoin(SyncState, SyncState.connection_id == ProviderConnection.id)
            .where(or_(ProviderConnection.mode == "indexed", SyncState.connection_id.is_not(None)))
            .order_by(ProviderConnection.id)
        )
        async with self._sessions() as session:
            rows = list(await session.execute(query))
        return [
            (public_id, provider, mode, done or added)
            for public_id, provider, mode, added, done in rows
        ]

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
                await upsert(
                    session,
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

    async def finished(
        self, connection_id: int, now: datetime, error: str | None, *, invalidate: bool = True
    ) -> None:
        """A pass ended: caught up (`error` None) or stopped by a failure. A crawl catching
        up is logged as a change of this connection alone (`invalidate`), so every server
        reloads its freshness (`lastSyncedAt`) and nothing else it caches; a failure, or a
        watch pass (a live connection's freshness is its provider's), changes nothing
        they cache."""
        values: dict[str, Any] = (
            {"last_completed_at": now, "last_error": None, "last_error_at": None}
            if error is None
            else {"last_error": error, "last_error_at": now}
        )
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(SyncState).where(SyncState.connection_id == connection_id).values(**values)
            )
            if error is None and invalidate:
                await invalidation.record(session, [Invalidation.synced(connection_id)])


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
