"""Changes at indexed connections: what a crawl's batch did to the index, and what a full
crawl no longer found.

A batch's rows are read before and after it is written, in its transaction, and compared
as the API shows them (`fields.py`): a row that was not there is `created`, one whose
fields differ is `updated` naming them. Comparing what the writes left, rather than what
the crawler sent, keeps the index's own rules (a sighting without a name erases none, a
cancelled booking outranks a participants list) out of detection. Every row a batch
touches is stamped with the pass's full-pass number; when a full crawl ends, a row it
never stamped is a record gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schema.records import ParticipantKey, ParticipantRecord, RegistrationRecord
from schema.scalars import Instant
from server.changes.events import Action, Change, Kind
from server.changes.fields import Fields, changed, participant_fields, registration_fields
from server.changes.tracking import Tracking
from server.store.models import IndexedParticipant, IndexedRegistration

CHUNK = 500  # ids per IN list: each statement's parameters stay bounded

Rows = dict[str, Fields]  # provider id -> the record's fields as the API shows them


def _instant(value: str | None) -> Instant | None:
    return Instant(value) if value else None


def _participant(row: Any, tracking: Tracking) -> Fields:
    """An index row's (or a selected row's) participant, as the API shows it."""
    record = ParticipantRecord(
        key=ParticipantKey(tracking.connection, row.provider_id), name=row.name, email=row.email
    )
    return participant_fields(record, None)


def _registration(row: Any, tracking: Tracking) -> Fields:
    record = RegistrationRecord(
        provider_id=row.provider_id,
        status=row.status,
        confirmed_at=_instant(row.confirmed_at),
        session_id=row.session_id,
        created_at=_instant(row.created_at),
    )
    return registration_fields(record, tracking.connection)


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    unique = sorted(set(ids))
    return [unique[start : start + CHUNK] for start in range(0, len(unique), CHUNK)]


class Batch:
    """The index rows one crawled batch writes, read before and after it."""

    def __init__(
        self, tracking: Tracking, participants: Sequence[str], registrations: Sequence[str]
    ) -> None:
        self._tracking = tracking
        self._participant_ids = participants
        self._registration_ids = registrations
        self._participants: Rows = {}
        self._registrations: Rows = {}
        self._owners: dict[str, str] = {}  # registration -> its participant

    async def _read(self, session: AsyncSession) -> tuple[Rows, Rows]:
        tracking = self._tracking
        participants: Rows = {}
        registrations: Rows = {}
        people = IndexedParticipant.__table__.c
        for ids in _chunks(self._participant_ids):
            for p in await session.execute(
                select(people.provider_id, people.name, people.email).where(
                    people.connection_id == tracking.connection_id, people.provider_id.in_(ids)
                )
            ):
                participants[p.provider_id] = _participant(p, tracking)
        rows = IndexedRegistration.__table__.c
        for ids in _chunks(self._registration_ids):
            for r in await session.execute(
                select(
                    rows.provider_id,
                    rows.participant_id,
                    rows.session_id,
                    rows.status,
                    rows.confirmed_at,
                    rows.created_at,
                ).where(rows.connection_id == tracking.connection_id, rows.provider_id.in_(ids))
            ):
                registrations[r.provider_id] = _registration(r, tracking)
                self._owners[r.provider_id] = r.participant_id
        return participants, registrations

    async def before(self, session: AsyncSession) -> None:
        """Read the rows as they are, before the batch is written."""
        self._participants, self._registrations = await self._read(session)

    async def after(self, session: AsyncSession) -> list[Change]:
        """Stamp the rows the batch wrote as seen by this pass; what changed in them."""
        tracking = self._tracking
        for model, ids in (
            (IndexedParticipant, self._participant_ids),
            (IndexedRegistration, self._registration_ids),
        ):
            for chunk in _chunks(ids):
                await session.execute(
                    update(model)
                    .where(model.connection_id == tracking.connection_id)
                    .where(model.provider_id.in_(chunk))
                    .values(seen_pass=tracking.full_pass)
                )
        participants, registrations = await self._read(session)
        changes = _compared(tracking, Kind.PARTICIPANT, self._participants, participants, None)
        changes += _compared(
            tracking, Kind.REGISTRATION, self._registrations, registrations, self._owners
        )
        return changes


def _compared(
    tracking: Tracking,
    kind: Kind,
    before: Rows,
    after: Rows,
    owners: dict[str, str] | None,
) -> list[Change]:
    changes = []
    for provider_id in sorted(after):
        fields = after[provider_id]
        participant = owners[provider_id] if owners is not None else provider_id
        if provider_id not in before:
            changes.append(
                tracking.change(kind, Action.CREATED, provider_id, participant, snapshot=fields)
            )
        elif names := changed(before[provider_id], fields):
            changes.append(
                tracking.change(
                    kind, Action.UPDATED, provider_id, participant, fields=names, snapshot=fields
                )
            )
    return changes


async def removed(session: AsyncSession, tracking: Tracking) -> list[Change]:
    """At the end of a full crawl: forget the rows it never found, each a `deleted`
    change (registrations first, then the participants they belonged to)."""
    gone_registrations = _unseen(IndexedRegistration, tracking)
    gone_participants = _unseen(IndexedParticipant, tracking)
    changes = [
        tracking.change(
            Kind.REGISTRATION,
            Action.DELETED,
            row.provider_id,
            row.participant_id,
            snapshot=_registration(row, tracking),
        )
        for row in await session.scalars(
            select(IndexedRegistration)
            .where(gone_registrations)
            .order_by(IndexedRegistration.provider_id)
        )
    ]
    changes += [
        tracking.change(
            Kind.PARTICIPANT,
            Action.DELETED,
            row.provider_id,
            row.provider_id,
            snapshot=_participant(row, tracking),
        )
        for row in await session.scalars(
            select(IndexedParticipant)
            .where(gone_participants)
            .order_by(IndexedParticipant.provider_id)
        )
    ]
    await session.execute(delete(IndexedRegistration).where(gone_registrations))
    await session.execute(delete(IndexedParticipant).where(gone_participants))
    return changes


def _unseen(model: type[IndexedParticipant] | type[IndexedRegistration], tracking: Tracking) -> Any:
    return (model.connection_id == tracking.connection_id) & (model.seen_pass < tracking.full_pass)
