"""Changes to an emulated Sessions workspace (`POST /__mutate`), in its own terms.

Sessions knows a person only as an email seen among sessions' participants and bookings,
so a participant's id is their email (any case). A person exists through what they take
part in: adding one needs the `session` they join, `via` a booking (the default: one more
`/api/bookings` row) or the session's participants list (as a guest), and a `name`.
A registration is one of those records, by its id: a booking or a participants-list entry.
Only a booking has a status: `cancelled: true` cancels it (Sessions cannot restore a
cancelled booking: book again); an entry is only added or removed. Sessions has no
purchases.

Sessions records carry `createdAt` and no update time (PROVIDERS.md): a new booking is
created at the change's moment, after everything else, so lists stay in creation order
and crawls resuming from a count find it at their end; a change to an existing record
leaves its timestamps as they were. A person's new name shows on every sighting; a new
email makes them, for Sessions, someone else (the old person removed, a new one added).
Removing a person removes every sighting: their bookings, their participants-list entries
and their address from other bookings' guests. A session's `booking` summary follows its
booking (gone when that booking goes).

Records are never edited in place (the data set passed to the emulator may be shared).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from server.providers.emulated.mutations import Change, Done, Json
from server.providers.sessions.emulated.dataset import (
    BOOKING_SUMMARY,
    ID_NAMESPACE,
    SessionsDataset,
    _booking_object,
    _entry,
    parse_timestamp,
)

KINDS = ("participant", "registration")
VIA = ("booking", "participants")


class Draft:
    """The workspace's records while one change is applied."""

    def __init__(self, dataset: SessionsDataset, stamp: str) -> None:
        self.original = dataset
        self.sessions = list(dataset.sessions)
        self.participants = {sid: list(rows) for sid, rows in dataset.participants.items()}
        self.bookings = list(dataset.bookings)
        self.stamp = stamp

    def dataset(self) -> SessionsDataset:
        by_id = {session["id"]: session for session in self.sessions}
        events = tuple(
            {**event, "session": by_id[event["session"]["id"]]}
            if by_id[event["session"]["id"]] is not event["session"]
            else event
            for event in self.original.events
        )
        return replace(
            self.original,
            sessions=tuple(self.sessions),
            participants={sid: tuple(rows) for sid, rows in self.participants.items()},
            bookings=tuple(self.bookings),
            events=events,
        )

    def new_id(self, kind: str) -> str:
        """A version 5 id (never a generated one) not used yet, the same for the same
        history of changes."""
        taken = {row["id"] for row in self.bookings}
        taken |= {entry["id"] for rows in self.participants.values() for entry in rows}
        number = len(taken)
        while True:
            made = str(uuid.uuid5(ID_NAMESPACE, f"{self.original.seed}:change:{kind}:{number}"))
            if made not in taken:
                return made
            number += 1

    def session(self, session_id: Any, change: Change) -> Json:
        for session in self.sessions:
            if session["id"] == session_id:
                return session
        raise change.missing(f"Session {session_id}")

    def resummarise(self) -> None:
        """Each session's `booking` summary as its booking now stands (None once gone)."""
        bookings = {booking["id"]: booking for booking in self.bookings}
        for index, session in enumerate(self.sessions):
            summary = session.get("booking")
            if summary is None:
                continue
            booking = bookings.get(summary["id"])
            now = {key: booking[key] for key in BOOKING_SUMMARY} if booking else None
            if now != summary:
                self.sessions[index] = {**session, "booking": now}


def person_of(entry: Json) -> Json | None:
    """The person of a participants-list entry; nobody for the session's owner."""
    return None if entry["isOwner"] else entry["user"] or entry["guest"]


def sightings(draft: Draft, email: str) -> tuple[list[tuple[str, Json]], list[Json]]:
    """(session id, entry) and bookings where `email` takes part."""
    wanted = email.lower()
    entries = [
        (session_id, entry)
        for session_id, rows in draft.participants.items()
        for entry in rows
        if (person := person_of(entry)) and person["email"].lower() == wanted
    ]
    bookings = [b for b in draft.bookings if b["participantEmail"].lower() == wanted]
    return entries, bookings


def known_name(draft: Draft, email: str) -> str | None:
    """The person's name as first seen, as the canonical mapping reads it."""
    return draft.original.people().get(email.lower(), {}).get("name")


def apply(draft: Draft, change: Change) -> Done:
    handlers: dict[tuple[str, str], Callable[[Draft, Change], Done]] = {
        ("participant", "add"): _add_person,
        ("participant", "change"): _change_person,
        ("participant", "remove"): _remove_person,
        ("registration", "add"): _add_registration,
        ("registration", "change"): _change_registration,
        ("registration", "remove"): _remove_registration,
    }
    return handlers[(change.kind, change.op)](draft, change)


# ---------------------------------------------------------------- people


def _add_person(draft: Draft, change: Change) -> Done:
    change.allow("name", "email", "session", "via")
    email = change.text("email", required=True) or ""
    name = change.text("name", required=True) or ""
    session = draft.session(change.need("session"), change)
    if any(sightings(draft, email)):
        raise change.error(409, f"{email} already takes part: add a registration instead")
    done = Done(change, email.lower(), draft.stamp, f"{name} joined {session['name']}")
    done.touch("participant", "add", email.lower(), "person")
    record, resource = _register(draft, change, session, email, name)
    done.record = record
    return done.touch("registration", "add", record["id"], resource)


def _register(
    draft: Draft, change: Change, session: Json, email: str, name: str, cancelled: bool = False
) -> tuple[Json, str]:
    """A booking of `session` (or an entry in its participants list) by `email`."""
    if change.choice("via", VIA, "booking") == "participants":
        if cancelled:
            raise change.error(400, "a participants-list entry cannot be cancelled")
        listed = draft.participants[session["id"]]
        if any((p := person_of(e)) and p["email"].lower() == email.lower() for e in listed):
            raise change.error(409, f"{email} already takes part in session {session['id']}")
        first, _, last = name.partition(" ")
        guest = {"id": draft.new_id("guest"), "email": email, "firstName": first}
        entry = _entry(draft.new_id("entry"), None, {**guest, "lastName": last or None}, False)
        draft.participants[session["id"]] = [*listed, entry]
        return entry, "participant"
    for booking in draft.bookings:
        same = booking["participantEmail"].lower() == email.lower()
        if same and booking["sessionId"] == session["id"] and not booking["cancelled"]:
            raise change.error(409, f"{email} already booked session {session['id']}")
    booking = _booking_object(
        draft.new_id("booking"),
        session,
        draft.original.booking_pages[0],
        name,
        email,
        [],
        cancelled,
        parse_timestamp(draft.stamp),
    )
    draft.bookings.append(booking)
    return booking, "booking"


def _change_person(draft: Draft, change: Change) -> Done:
    change.allow("name", "email")
    if not change.fields:
        raise change.error(400, "participant change needs name or email")
    old = str(change.id).lower()
    entries, bookings = sightings(draft, old)
    if not entries and not bookings:
        raise change.missing(f"Participant {change.id}")
    name, email = change.text("name"), change.text("email")
    if email and email.lower() != old and any(sightings(draft, email)):
        raise change.error(409, f"{email} is someone else")
    first, _, last = (name or "").partition(" ")
    for session_id, entry in entries:
        side = "user" if entry["user"] else "guest"
        person = dict(entry[side])
        if name:
            person |= {"firstName": first, "lastName": last or None}
        if email:
            person["email"] = email
        rows = draft.participants[session_id]
        rows[rows.index(entry)] = {**entry, side: person}
    for booking in bookings:
        updated = dict(booking)
        if name:
            updated["participantName"] = name
        if email:
            updated["participantEmail"] = email
        draft.bookings[draft.bookings.index(booking)] = updated
    if email:
        _replace_guest(draft, old, email)
    draft.resummarise()
    new = (email or old).lower()
    what = f"renamed {name}" if name else ""
    what += f"{' and ' if what else ''}now {email}" if email else ""
    done = Done(change, new, draft.stamp, f"{old} {what}")
    done.record = {"email": new, "name": name or known_name(draft, old)}
    if new == old:
        return done.touch("participant", "change", old, "person")
    done.touch("participant", "remove", old, "person")
    return done.touch("participant", "add", new, "person")


def _replace_guest(draft: Draft, old: str, new: str | None) -> None:
    """Bookings that bring `old` as a guest bring `new` instead (nobody, when None)."""
    for index, booking in enumerate(draft.bookings):
        if any(guest.lower() == old for guest in booking["guests"]):
            guests = [g for g in booking["guests"] if g.lower() != old]
            draft.bookings[index] = {**booking, "guests": guests + ([new] if new else [])}


def _remove_person(draft: Draft, change: Change) -> Done:
    change.allow()
    email = str(change.id).lower()
    entries, bookings = sightings(draft, email)
    if not entries and not bookings:
        raise change.missing(f"Participant {change.id}")
    done = Done(change, email, draft.stamp, f"removed {email}")
    done.touch("participant", "remove", email, "person")
    for session_id, entry in entries:
        draft.participants[session_id].remove(entry)
        done.touch("registration", "remove", entry["id"], "participant")
    for booking in bookings:
        draft.bookings.remove(booking)
        done.touch("registration", "remove", booking["id"], "booking")
    _replace_guest(draft, email, None)
    draft.resummarise()
    done.done += f" from {len(entries)} sessions and {len(bookings)} bookings"
    return done


# ---------------------------------------------------------------- registrations


def _add_registration(draft: Draft, change: Change) -> Done:
    change.allow("participant", "session", "via", "cancelled")
    session = draft.session(change.need("session"), change)
    email = str(change.need("participant"))
    name = known_name(draft, email)
    if name is None or not any(sightings(draft, email)):
        raise change.missing(f"Participant {email} (a newcomer is a participant add)")
    cancelled = change.get("cancelled", False)
    if not isinstance(cancelled, bool):
        raise change.error(400, "cancelled must be true or false")
    record, resource = _register(draft, change, session, email, name, cancelled)
    done = Done(change, record["id"], draft.stamp, f"{name} registered for {session['name']}")
    done.record = record
    return done.touch("registration", "add", record["id"], resource)


def _entry_of(draft: Draft, entry_id: Any) -> tuple[str, Json] | None:
    for session_id, rows in draft.participants.items():
        for entry in rows:
            if entry["id"] == entry_id:
                return session_id, entry
    return None


def _change_registration(draft: Draft, change: Change) -> Done:
    change.allow("cancelled")
    cancelled = change.need("cancelled")
    if not isinstance(cancelled, bool):
        raise change.error(400, "cancelled must be true or false")
    booking = next((b for b in draft.bookings if b["id"] == change.id), None)
    if booking is None:
        if _entry_of(draft, change.id):
            raise change.error(400, "a participants-list entry has no status: remove it")
        raise change.missing(f"Registration {change.id}")
    if booking["cancelled"] == cancelled:
        state = "cancelled" if cancelled else "standing"
        raise change.error(409, f"Booking {booking['id']} is already {state}")
    if not cancelled:
        raise change.error(409, "Sessions cannot restore a cancelled booking: book again")
    updated = {**booking, "cancelled": True}
    draft.bookings[draft.bookings.index(booking)] = updated
    done = Done(change, booking["id"], draft.stamp, f"{booking['participantName']} cancelled")
    done.done += f" {booking['name']}"
    done.record = updated
    return done.touch("registration", "change", booking["id"], "booking")


def _remove_registration(draft: Draft, change: Change) -> Done:
    change.allow()
    booking = next((b for b in draft.bookings if b["id"] == change.id), None)
    if booking is not None:
        draft.bookings.remove(booking)
        draft.resummarise()
        done = Done(change, booking["id"], draft.stamp, f"removed booking of {booking['name']}")
        return done.touch("registration", "remove", booking["id"], "booking")
    found = _entry_of(draft, change.id)
    if found is None:
        raise change.missing(f"Registration {change.id}")
    session_id, entry = found
    person = person_of(entry)
    if person is None:
        raise change.error(400, "the session's owner is not a registration")
    draft.participants[session_id].remove(entry)
    done = Done(change, entry["id"], draft.stamp, f"{person['email']} left a session")
    return done.touch("registration", "remove", entry["id"], "participant")
