"""Boxpressd JSON: its documented types, and the mapping table's Boxpressd column.

A participant is a distinct user (`displayName`, no email); each of their smoke sessions
is a registration, `attended`, confirmed when it started; the smoke session is its
activity session. Optional fields may be absent.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from schema.records import (
    ActivitySessionRecord,
    ParticipantKey,
    ParticipantRecord,
    RegistrationRecord,
)
from schema.scalars import Instant
from server.providers.indexed import ProviderId, Timestamp, check_years, clip

PROVIDER = "boxpressd"


class User(msgspec.Struct, rename="camel", gc=False):
    id: ProviderId
    display_name: str | None = None


class Cigar(msgspec.Struct, gc=False):
    name: str | None = None


class SmokeSession(msgspec.Struct, rename="camel", gc=False):
    id: ProviderId
    created_at: Timestamp
    user: User
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    cigar: Cigar | None = None

    def __post_init__(self) -> None:
        check_years(self.created_at, self.started_at, self.ended_at)


class Meta(msgspec.Struct, gc=False):
    count: int
    limit: int | None = None
    offset: int | None = None


class SessionsPage(msgspec.Struct, gc=False):
    data: list[SmokeSession]
    meta: Meta


def instant(moment: datetime | None) -> Instant | None:
    return Instant.at(moment) if moment is not None else None


def participant(connection: str, session: SmokeSession) -> ParticipantRecord:
    return ParticipantRecord(
        key=ParticipantKey(connection, session.user.id),
        name=clip(session.user.display_name),
        email=None,
        created_at=instant(session.created_at),
        provider=PROVIDER,
    )


def registration(session: SmokeSession) -> RegistrationRecord:
    return RegistrationRecord(
        provider_id=session.id,
        status="attended",
        confirmed_at=instant(session.started_at),
        session_id=session.id,
        created_at=instant(session.created_at),
    )


def activity_session(session: SmokeSession) -> ActivitySessionRecord:
    return ActivitySessionRecord(
        provider_id=session.id,
        title=clip(session.cigar.name) if session.cigar else None,
        starts_at=instant(session.started_at),
        ends_at=instant(session.ended_at),
        capacity=None,
        status="attended",
    )
