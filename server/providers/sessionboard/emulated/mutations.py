"""Changes to an emulated Sessionboard organisation (`POST /__mutate`), in its own terms.

A participant is an organisation contact (id: the contact's number; fields `name` (split
into `first_name` and the rest as `last_name`), `email`, `company_name`, `title`). A
registration is a (session, contact) pair, `<event id>/<session id>/<contact id>` as the
graph knows it: adding one lists the contact among the session's `participants` (or its
`speakers`, with `role: "speaker"`), removing one takes them off both lists. A pair's
status is its session's `status`, so changing a registration's `status` changes the
session's, and with it every registration of that session (all are named as touched).
Sessionboard has no purchases.

Every contact or session a change writes gets the change's moment as `updated_at` (and
`created_at`, when new), so `updatedAt` searches find it. A contact's new name or email
also shows wherever sessions list the contact, without touching those sessions'
`updated_at` (the session itself did not change). Removing a contact takes them off every
session (each of those sessions updated): their registrations go with them.

Records are never edited in place (the data set passed to the emulator may be shared).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.providers.emulated.mutations import Change, Done, Json
from server.providers.sessionboard.emulated.dataset import STATUSES, SessionboardDataset

KINDS = ("participant", "registration")
ROLES = ("participant", "speaker")
LISTS = {"participant": "participants", "speaker": "speakers"}
ATTENDEE = {"slug": "attendee", "name": "Attendee"}
FIRST_NEW_ID = 1_000_000  # generated contact ids stay below


class Draft:
    """The organisation's records while one change is applied."""

    def __init__(self, dataset: SessionboardDataset, stamp: str) -> None:
        self.events = dataset.events
        self.contacts = list(dataset.contacts)
        self.sessions = {event: list(rows) for event, rows in dataset.sessions_by_event.items()}
        self.stamp = stamp

    def dataset(self) -> SessionboardDataset:
        return SessionboardDataset(
            events=self.events,
            sessions_by_event={event: tuple(rows) for event, rows in self.sessions.items()},
            contacts=tuple(self.contacts),
        )

    def contact(self, raw: Any, change: Change) -> int:
        """The index of contact `raw` (a number, or its digits)."""
        number = _number(raw)
        for index, contact in enumerate(self.contacts):
            if contact["id"] == number:
                return index
        raise change.missing(f"Contact {raw}")

    def session(self, raw: Any, change: Change) -> tuple[int, int]:
        """(event id, index in its programme) of session `<event id>/<session id>`."""
        event, _, session = str(raw).partition("/")
        rows = self.sessions.get(_number(event) or -1, [])
        for index, row in enumerate(rows):
            if row["id"] == _number(session):
                return int(event), index
        raise change.missing(f"Session {raw}")

    def replace_session(self, event: int, index: int, **fields: Any) -> Json:
        session = {**self.sessions[event][index], **fields, "updated_at": self.stamp}
        self.sessions[event][index] = session
        return session


def _number(raw: Any) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    text = str(raw)
    return int(text) if text.isascii() and text.isdigit() else None


def _names(full: str | None) -> Json:
    first, _, last = (full or "").partition(" ")
    return {"first_name": first or None, "last_name": last.strip() or None}


def _listed(session: Json) -> list[int]:
    """Everyone the session lists, once each, participants first."""
    people = [*session["participants"], *session["speakers"]]
    return list(dict.fromkeys(person["id"] for person in people))


def _as_listed(contact: Json, role: str) -> Json:
    person = {"id": contact["id"]}
    person |= {key: contact[key] for key in ("first_name", "last_name") if key in contact}
    person["email"] = contact.get("email")
    if role == "participant":
        person["participant_role"] = dict(ATTENDEE)
    return person


def _label(contact: Json) -> str:
    parts = (contact.get("first_name"), contact.get("last_name"))
    return " ".join(p for p in parts if p) or contact.get("email") or str(contact["id"])


def apply(draft: Draft, change: Change) -> Done:
    handlers: dict[tuple[str, str], Callable[[Draft, Change], Done]] = {
        ("participant", "add"): _add_contact,
        ("participant", "change"): _change_contact,
        ("participant", "remove"): _remove_contact,
        ("registration", "add"): _add_registration,
        ("registration", "change"): _change_registration,
        ("registration", "remove"): _remove_registration,
    }
    return handlers[(change.kind, change.op)](draft, change)


# ---------------------------------------------------------------- contacts


def _add_contact(draft: Draft, change: Change) -> Done:
    change.allow("name", "email", "company_name", "title", "session", "role")
    number = max((contact["id"] for contact in draft.contacts), default=0)
    contact = {
        "id": max(number, FIRST_NEW_ID - 1) + 1,
        **_names(change.text("name")),
        "email": change.text("email"),
        "company_name": change.text("company_name"),
        "title": change.text("title"),
        "created_at": draft.stamp,
        "updated_at": draft.stamp,
    }
    draft.contacts.append(contact)
    done = Done(change, contact["id"], draft.stamp, f"added contact {_label(contact)}")
    done.record = contact
    done.touch("participant", "add", contact["id"], "contact")
    if change.get("session") is not None:
        registration = _register(draft, change, contact, change.get("session"))
        done.touch("registration", "add", registration, "session")
        done.done += f", in session {change.get('session')}"
    elif change.get("role") is not None:
        raise change.error(400, "role is a registration's: give the session too")
    return done


def _change_contact(draft: Draft, change: Change) -> Done:
    change.allow("name", "email", "company_name", "title")
    if not change.fields:
        raise change.error(400, "participant change needs name, email, company_name or title")
    index = draft.contact(change.id, change)
    contact = dict(draft.contacts[index])
    if "name" in change.fields:
        contact |= _names(change.text("name"))
    for key in ("email", "company_name", "title"):
        if key in change.fields:
            contact[key] = change.text(key)
    contact["updated_at"] = draft.stamp
    draft.contacts[index] = contact
    for rows in draft.sessions.values():  # where sessions list the contact, as it is now
        for position, session in enumerate(rows):
            if contact["id"] in _listed(session):
                rows[position] = {
                    **session,
                    **{key: _relisted(session[key], contact) for key in LISTS.values()},
                }
    done = Done(change, contact["id"], draft.stamp, f"changed contact {_label(contact)}")
    done.done += f": {', '.join(sorted(change.fields))}"
    done.record = contact
    return done.touch("participant", "change", contact["id"], "contact")


def _relisted(people: list[Json], contact: Json) -> list[Json]:
    shown: Json = {key: contact[key] for key in ("first_name", "last_name") if key in contact}
    return [
        {**person, **shown, "email": contact.get("email")}
        if person["id"] == contact["id"]
        else person
        for person in people
    ]


def _remove_contact(draft: Draft, change: Change) -> Done:
    change.allow()
    contact = draft.contacts.pop(draft.contact(change.id, change))
    done = Done(change, contact["id"], draft.stamp, f"removed contact {_label(contact)}")
    done.touch("participant", "remove", contact["id"], "contact")
    for event, rows in draft.sessions.items():
        for index, session in enumerate(rows):
            if contact["id"] in _listed(session):
                lists = {key: _without(session[key], contact["id"]) for key in LISTS.values()}
                draft.replace_session(event, index, **lists)
                pair = f"{event}/{session['id']}/{contact['id']}"
                done.touch("registration", "remove", pair, "session")
    done.done += f" from {len(done.touched) - 1} sessions"
    return done


def _without(people: list[Json], contact_id: int) -> list[Json]:
    return [person for person in people if person["id"] != contact_id]


# ---------------------------------------------------------------- registrations


def _register(draft: Draft, change: Change, contact: Json, session_ref: Any) -> str:
    role = change.choice("role", ROLES, "participant")
    event, index = draft.session(session_ref, change)
    session = draft.sessions[event][index]
    key = LISTS[role]
    if any(person["id"] == contact["id"] for person in session[key]):
        raise change.error(409, f"Contact {contact['id']} is already a {role} of {session_ref}")
    draft.replace_session(event, index, **{key: [*session[key], _as_listed(contact, role)]})
    return f"{event}/{session['id']}/{contact['id']}"


def _add_registration(draft: Draft, change: Change) -> Done:
    change.allow("participant", "session", "role")
    session_ref = change.need("session")
    contact = draft.contacts[draft.contact(change.need("participant"), change)]
    pair = _register(draft, change, contact, session_ref)
    done = Done(change, pair, draft.stamp, f"{_label(contact)} joined session {pair}")
    event, index = draft.session(session_ref, change)
    done.record = draft.sessions[event][index]
    return done.touch("registration", "add", pair, "session")


def _pair(draft: Draft, change: Change) -> tuple[int, int, int]:
    """(event, index of the session, contact id) of registration `change.id`."""
    session_ref, _, contact_raw = str(change.id).rpartition("/")
    event, index = draft.session(session_ref, change)
    contact_id = _number(contact_raw)
    if contact_id is None or contact_id not in _listed(draft.sessions[event][index]):
        raise change.missing(f"Registration {change.id}")
    return event, index, contact_id


def _change_registration(draft: Draft, change: Change) -> Done:
    change.allow("status")
    status = change.choice("status", STATUSES)
    if status is None:
        raise change.error(400, "registration change needs 'status' (the session's)")
    event, index, _ = _pair(draft, change)
    session = draft.replace_session(event, index, status=status)
    done = Done(change, change.id, draft.stamp, f"session {session['title']} {status}")
    done.record = session
    for contact_id in _listed(session):
        done.touch("registration", "change", f"{event}/{session['id']}/{contact_id}", "session")
    return done


def _remove_registration(draft: Draft, change: Change) -> Done:
    change.allow()
    event, index, contact_id = _pair(draft, change)
    session = draft.sessions[event][index]
    person = next(
        p for p in (*session["participants"], *session["speakers"]) if p["id"] == contact_id
    )
    lists = {key: _without(session[key], contact_id) for key in LISTS.values()}
    session = draft.replace_session(event, index, **lists)
    done = Done(change, change.id, draft.stamp, f"{_label(person)} left {session['title']}")
    done.record = session
    return done.touch("registration", "remove", change.id, "session")
