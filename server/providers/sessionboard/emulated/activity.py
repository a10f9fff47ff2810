"""What plausibly happens in a Sessionboard organisation, as changes its emulator takes:
the activity simulator names an `Intent`, and this picks who and what from the current
data. A session accepted or declined stands for a registration confirmed or cancelled
(a pair's status is its session's); Sessionboard has no consent and no purchases."""

from __future__ import annotations

import random
from collections.abc import Callable

from server.providers.emulated.mutations import Intent, Json
from server.providers.sessionboard.emulated.dataset import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    SessionboardDataset,
    _slug,
)

OPEN = ("accepted", "accept_queue", "pending")
UNDECIDED = ("pending", "accept_queue")


def propose(dataset: SessionboardDataset, intent: Intent, rng: random.Random) -> Json | None:
    """A change request for `intent`, or None when there is nothing to apply it to."""
    proposers: dict[Intent, Callable[[SessionboardDataset, random.Random], Json | None]] = {
        Intent.JOIN: _join,
        Intent.REGISTER: _register,
        Intent.CONFIRM: lambda data, r: _decide(data, r, UNDECIDED, "accepted"),
        Intent.CANCEL: lambda data, r: _decide(data, r, OPEN, "declined"),
        Intent.RENAME: _rename,
        Intent.REEMAIL: _reemail,
        Intent.UNREGISTER: _unregister,
        Intent.LEAVE: _leave,
    }
    proposer = proposers.get(intent)
    return proposer(dataset, rng) if proposer else None


def _sessions(dataset: SessionboardDataset) -> list[tuple[int, Json]]:
    return [
        (event["id"], session)
        for event in dataset.events
        for session in dataset.sessions_by_event[event["id"]]
    ]


def _people(session: Json) -> list[int]:
    return list(dict.fromkeys(p["id"] for p in (*session["participants"], *session["speakers"])))


def _email(dataset: SessionboardDataset, first: str, last: str, rng: random.Random) -> str:
    used = {contact.get("email") for contact in dataset.contacts}
    local = ".".join(part for part in (_slug(first), _slug(last)) if part) or "contact"
    while True:
        email = f"{local}.{rng.randrange(1000, 10000)}@{rng.choice(EMAIL_DOMAINS)}"
        if email not in used:
            return email


def _join(dataset: SessionboardDataset, rng: random.Random) -> Json:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    change: Json = {
        "kind": "participant",
        "op": "add",
        "name": f"{first} {last}",
        "email": _email(dataset, first, last, rng),
    }
    sessions = [(e, s) for e, s in _sessions(dataset) if s["status"] in OPEN]
    if sessions:
        event, session = rng.choice(sessions)
        change["session"] = f"{event}/{session['id']}"
    return change


def _register(dataset: SessionboardDataset, rng: random.Random) -> Json | None:
    if not dataset.contacts:
        return None
    contact = rng.choice(dataset.contacts)
    sessions = [
        (event, session)
        for event, session in _sessions(dataset)
        if session["status"] in OPEN and contact["id"] not in _people(session)
    ]
    if not sessions:
        return None
    event, session = rng.choice(sessions)
    return {
        "kind": "registration",
        "op": "add",
        "participant": contact["id"],
        "session": f"{event}/{session['id']}",
    }


def _decide(
    dataset: SessionboardDataset, rng: random.Random, current: tuple[str, ...], status: str
) -> Json | None:
    sessions = [(e, s) for e, s in _sessions(dataset) if s["status"] in current and _people(s)]
    if not sessions:
        return None
    event, session = rng.choice(sessions)
    pair = f"{event}/{session['id']}/{rng.choice(_people(session))}"
    return {"kind": "registration", "op": "change", "id": pair, "status": status}


def _rename(dataset: SessionboardDataset, rng: random.Random) -> Json | None:
    if not dataset.contacts:
        return None
    contact = rng.choice(dataset.contacts)
    first = contact.get("first_name") or rng.choice(FIRST_NAMES)
    last = rng.choice([name for name in LAST_NAMES if name != contact.get("last_name")])
    return {"kind": "participant", "op": "change", "id": contact["id"], "name": f"{first} {last}"}


def _reemail(dataset: SessionboardDataset, rng: random.Random) -> Json | None:
    if not dataset.contacts:
        return None
    contact = rng.choice(dataset.contacts)
    first = contact.get("first_name") or "contact"
    email = _email(dataset, first, contact.get("last_name") or "", rng)
    return {"kind": "participant", "op": "change", "id": contact["id"], "email": email}


def _unregister(dataset: SessionboardDataset, rng: random.Random) -> Json | None:
    sessions = [(event, session) for event, session in _sessions(dataset) if _people(session)]
    if not sessions:
        return None
    event, session = rng.choice(sessions)
    pair = f"{event}/{session['id']}/{rng.choice(_people(session))}"
    return {"kind": "registration", "op": "remove", "id": pair}


def _leave(dataset: SessionboardDataset, rng: random.Random) -> Json | None:
    if not dataset.contacts:
        return None
    return {"kind": "participant", "op": "remove", "id": rng.choice(dataset.contacts)["id"]}
