"""Sessions (sessions.us) JSON: its documented types, and the mapping table's Sessions
column.

A participant is a distinct person by email, among the participants of sessions (the
owner aside: the person is the `guest` or the `user`) and the people of bookings. A
registration is a distinct (person, session) pair: `confirmed`, or `cancelled` when a
cancelled booking backs it; confirmed at the session's `createdAt`. Lists are bare
arrays, or `{"data": [...]}`.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from schema.records import ActivitySessionRecord, RegistrationRecord
from schema.scalars import Instant
from server.providers.indexed import Email, ProviderId, Timestamp, check_years, clip

PROVIDER = "sessions"
PAGE = 20  # every list's page; a shorter page is the last


class Person(msgspec.Struct, rename="camel", gc=False):
    email: Email | None = None
    first_name: str | None = None
    last_name: str | None = None

    def name(self) -> str | None:
        return (
            " ".join(p.strip() for p in (self.first_name, self.last_name) if p and p.strip())
            or None
        )


class Participant(msgspec.Struct, rename="camel", gc=False):
    is_owner: bool = False
    user: Person | None = None
    guest: Person | None = None

    def person(self) -> Person | None:
        """The guest or the user; nobody for the session's owner."""
        return None if self.is_owner else self.guest or self.user


class Session(msgspec.Struct, rename="camel", gc=False):
    id: ProviderId
    name: str | None = None
    created_at: Timestamp | None = None
    start_at: Timestamp | None = None
    planned_end: Timestamp | None = None
    ended_at: Timestamp | None = None

    def __post_init__(self) -> None:
        check_years(self.created_at, self.start_at, self.planned_end, self.ended_at)


class Booking(msgspec.Struct, rename="camel", gc=False):
    id: ProviderId
    session_id: ProviderId | None = None
    participant_name: str | None = None
    participant_email: Email | None = None
    guests: list[Email] = []
    cancelled: bool = False
    created_at: Timestamp | None = None

    def __post_init__(self) -> None:
        check_years(self.created_at)


class _Data(msgspec.Struct, gc=False):
    data: list[msgspec.Raw]


def items(body: list[msgspec.Raw] | _Data) -> list[msgspec.Raw]:
    return body.data if isinstance(body, _Data) else body


# What a list endpoint answers: a bare array, or the same array in `data`.
ListBody = list[msgspec.Raw] | _Data


def instant(moment: datetime | None) -> Instant | None:
    return Instant.at(moment) if moment is not None else None


def activity_session(session: Session) -> ActivitySessionRecord:
    return ActivitySessionRecord(
        provider_id=session.id,
        title=clip(session.name),
        starts_at=instant(session.start_at),
        ends_at=instant(session.ended_at or session.planned_end),
        capacity=None,
        status="ended" if session.ended_at else None,
        created_at=instant(session.created_at),
    )


def registration(
    session_id: str, person_id: str, cancelled: bool, session_created: Instant | None
) -> RegistrationRecord:
    return RegistrationRecord(
        provider_id=f"{session_id}/{person_id}",
        status="cancelled" if cancelled else "confirmed",
        confirmed_at=None if cancelled else session_created,
        session_id=session_id,
        created_at=session_created,
    )
