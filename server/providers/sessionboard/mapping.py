"""Sessionboard JSON: its documented types, and how they map onto canonical records (the
mapping table's Sessionboard column).

Lists come in a `data` envelope on newer endpoints and `results` on legacy ones; every
list type reads either. Ids are numbers on the wire but strings in the graph.
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

PROVIDER = "sessionboard"

SESSION_STATUS = {
    "accepted": "confirmed",
    "pending": "pending",
    "accept_queue": "pending",
    "declined": "declined",
    "decline_queue": "declined",
}

Id = int | str


class Pagination(msgspec.Struct, rename="camel", gc=False):
    current_page: int = 1
    total_pages: int = 0


class Person(msgspec.Struct, gc=False):
    id: Id
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None


class Contact(Person):
    created_at: str | None = None
    updated_at: str | None = None


class Event(msgspec.Struct, gc=False):
    id: Id
    name: str | None = None


class Session(msgspec.Struct, gc=False):
    id: Id
    title: str | None = None
    status: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    capacity: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    speakers: list[Person] = []
    participants: list[Person] = []


class _Page(msgspec.Struct, gc=False):
    pagination: Pagination | None = None

    def more_pages(self) -> bool:
        return self.pagination is not None and self.pagination.current_page < (
            self.pagination.total_pages
        )


class ContactsPage(_Page):
    data: list[Contact] | None = None
    results: list[Contact] | None = None

    def items(self) -> list[Contact]:
        return self.data if self.data is not None else self.results or []


class EventsPage(_Page):
    data: list[Event] | None = None
    results: list[Event] | None = None

    def items(self) -> list[Event]:
        return self.data if self.data is not None else self.results or []


class SessionsPage(_Page):
    data: list[Session] | None = None
    results: list[Session] | None = None

    def items(self) -> list[Session]:
        return self.data if self.data is not None else self.results or []


def full_name(person: Person) -> str | None:
    """`first_name + last_name`, a missing part left out."""
    parts = [part.strip() for part in (person.first_name, person.last_name) if part]
    return " ".join(part for part in parts if part) or None


def participant(connection: str, contact: Contact) -> ParticipantRecord:
    return ParticipantRecord(
        key=ParticipantKey(connection, str(contact.id)),
        name=full_name(contact),
        email=contact.email or None,
        created_at=Instant.of(contact.created_at),
        provider=PROVIDER,
    )


def session_key(event: Id, session: Id) -> str:
    """A session is known by its event and its own id (both needed to fetch it again)."""
    return f"{event}/{session}"


def registration(event: Id, session: Session, contact: Id) -> RegistrationRecord | None:
    """The (session, contact) pair; None for a session status this graph cannot place."""
    status = SESSION_STATUS.get(session.status or "")
    if status is None:
        return None
    return RegistrationRecord(
        provider_id=f"{session_key(event, session.id)}/{contact}",
        status=status,
        confirmed_at=Instant.of(session.updated_at) if status == "confirmed" else None,
        session_id=session_key(event, session.id),
        created_at=Instant.of(session.created_at),
    )


def activity_session(event: Id, session: Session) -> ActivitySessionRecord:
    return ActivitySessionRecord(
        provider_id=session_key(event, session.id),
        title=session.title or None,
        starts_at=Instant.of(session.starts_at),
        ends_at=Instant.of(session.ends_at),
        capacity=session.capacity,
        status=session.status,
    )
