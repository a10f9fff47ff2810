"""Boxpressd JSON: its documented types, and the mapping table's Boxpressd column.

A participant is a distinct user (`displayName`, no email); each of their smoke sessions
is a registration, `attended`, confirmed when it started; the smoke session is its
activity session. Optional fields may be absent.
"""

from __future__ import annotations

import msgspec

from schema.records import (
    ActivitySessionRecord,
    ParticipantKey,
    ParticipantRecord,
    RegistrationRecord,
)
from schema.scalars import Instant

PROVIDER = "boxpressd"


class User(msgspec.Struct, rename="camel", gc=False):
    id: str
    display_name: str | None = None


class Cigar(msgspec.Struct, gc=False):
    name: str | None = None


class SmokeSession(msgspec.Struct, rename="camel", gc=False):
    id: str
    created_at: str
    user: User
    started_at: str | None = None
    ended_at: str | None = None
    cigar: Cigar | None = None


class Meta(msgspec.Struct, gc=False):
    count: int
    limit: int | None = None
    offset: int | None = None


class SessionsPage(msgspec.Struct, gc=False):
    data: list[SmokeSession]
    meta: Meta


def participant(connection: str, session: SmokeSession) -> ParticipantRecord:
    return ParticipantRecord(
        key=ParticipantKey(connection, session.user.id),
        name=session.user.display_name or None,
        email=None,
        created_at=Instant.of(session.created_at),
        provider=PROVIDER,
    )


def registration(session: SmokeSession) -> RegistrationRecord:
    return RegistrationRecord(
        provider_id=session.id,
        status="attended",
        confirmed_at=Instant.of(session.started_at),
        session_id=session.id,
        created_at=Instant.of(session.created_at),
    )


def activity_session(session: SmokeSession) -> ActivitySessionRecord:
    return ActivitySessionRecord(
        provider_id=session.id,
        title=session.cigar.name if session.cigar else None,
        starts_at=Instant.of(session.started_at),
        ends_at=Instant.of(session.ended_at),
        capacity=None,
        status="attended",
    )
