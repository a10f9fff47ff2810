"""What plausibly happens in a Sessions workspace, as changes its emulator takes: the
activity simulator names an `Intent`, and this picks who and what from the current data.
Bookings are confirmed when made and a person is their email, so Sessions has nothing to
confirm and no email to correct; nor consent, nor purchases."""

from __future__ import annotations

import random
from collections.abc import Callable

from server.providers.emulated.mutations import Intent, Json
from server.providers.sessions.emulated.dataset import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    SessionsDataset,
    _slug,
)


def propose(dataset: SessionsDataset, intent: Intent, rng: random.Random) -> Json | None:
    """A change request for `intent`, or None when there is nothing to apply it to."""
    proposers: dict[Intent, Callable[[SessionsDataset, random.Random], Json | None]] = {
        Intent.JOIN: _join,
        Intent.REGISTER: _register,
        Intent.CANCEL: _cancel,
        Intent.RENAME: _rename,
        Intent.UNREGISTER: _unregister,
        Intent.LEAVE: _leave,
    }
    proposer = proposers.get(intent)
    return proposer(dataset, rng) if proposer else None


def _open(dataset: SessionsDataset) -> list[str]:
    """Sessions still to come or running (those not ended), else any."""
    ids = [session["id"] for session in dataset.sessions if session["endedAt"] is None]
    return ids or [session["id"] for session in dataset.sessions]


def _taking_part(dataset: SessionsDataset, email: str) -> set[str]:
    wanted = email.lower()
    sessions = {
        session_id
        for session_id, entries in dataset.participants.items()
        for entry in entries
        if not entry["isOwner"] and (entry["user"] or entry["guest"])["email"].lower() == wanted
    }
    sessions |= {
        booking["sessionId"]
        for booking in dataset.bookings
        if booking["participantEmail"].lower() == wanted and not booking["cancelled"]
    }
    return sessions


def _join(dataset: SessionsDataset, rng: random.Random) -> Json | None:
    sessions = _open(dataset)
    if not sessions:
        return None
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    known = dataset.people()
    while True:
        email = f"{_slug(first)}.{_slug(last)}{rng.randrange(10, 1000)}@{rng.choice(EMAIL_DOMAINS)}"
        if email not in known:
            break
    return {
        "kind": "participant",
        "op": "add",
        "name": f"{first} {last}",
        "email": email,
        "session": rng.choice(sessions),
        "via": "booking" if rng.random() < 0.7 else "participants",
    }


def _register(dataset: SessionsDataset, rng: random.Random) -> Json | None:
    people = sorted(dataset.people())
    if not people:
        return None
    email = rng.choice(people)
    sessions = [s for s in _open(dataset) if s not in _taking_part(dataset, email)]
    if not sessions:
        return None
    return {
        "kind": "registration",
        "op": "add",
        "participant": email,
        "session": rng.choice(sessions),
    }


def _cancel(dataset: SessionsDataset, rng: random.Random) -> Json | None:
    standing = [booking for booking in dataset.bookings if not booking["cancelled"]]
    if not standing:
        return None
    booking = rng.choice(standing)
    return {"kind": "registration", "op": "change", "id": booking["id"], "cancelled": True}


def _rename(dataset: SessionsDataset, rng: random.Random) -> Json | None:
    people = dataset.people()
    if not people:
        return None
    email = rng.choice(sorted(people))
    first = people[email]["first_name"] or rng.choice(FIRST_NAMES)
    last = rng.choice([name for name in LAST_NAMES if name != people[email]["last_name"]])
    return {"kind": "participant", "op": "change", "id": email, "name": f"{first} {last}"}


def _unregister(dataset: SessionsDataset, rng: random.Random) -> Json | None:
    records = [b["id"] for b in dataset.bookings] + [
        entry["id"]
        for entries in dataset.participants.values()
        for entry in entries
        if not entry["isOwner"]
    ]
    if not records:
        return None
    return {"kind": "registration", "op": "remove", "id": rng.choice(records)}


def _leave(dataset: SessionsDataset, rng: random.Random) -> Json | None:
    people = sorted(dataset.people())
    if not people:
        return None
    return {"kind": "participant", "op": "remove", "id": rng.choice(people)}
