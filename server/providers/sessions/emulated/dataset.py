"""Deterministic synthetic data for the Sessions (sessions.us) emulator.

One workspace, the way its API key sees it: the one or two workspace members who host
sessions, the sessions they hosted or will host (each with its participants, the host
first), the bookings made through the workspace's booking pages, and the sessions that
are published as events. The same ``(seed, size, now)`` always yields identical JSON: all
randomness flows from one ``random.Random(seed)`` and every date is an offset from ``now``,
a fixed anchor unless one is passed, never the wall clock.

Objects are stored exactly as Sessions sends them (camelCase, string UUID ids, timestamps
in UTC with milliseconds and ``Z``), including what clients must tolerate: one person (one
email) seen in several sessions with the email cased differently, as a guest in one session
and a workspace user in another, or with the whole name in ``firstName`` and ``lastName``
``null`` or ``""``; and people who only ever booked.

`SessionsDataset.people` and `SessionsDataset.registrations` read the data the way the
canonical mapping does and are what tests compare an adapter's output with. The
``with_*`` methods return a changed copy, so an emulator can serve a workspace that grows.
"""

from __future__ import annotations

import random
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

Json = dict[str, Any]

ANCHOR = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
MIN_SESSIONS = 25  # more than one page of 20
MIN_SIZE, MAX_SIZE = 10, 20_000
PAST_DAYS, AHEAD_DAYS = 60, 30
RECENT = 3  # sessions that started in the last 24 hours, one of them still running
UPCOMING_SHARE = 0.3
MAX_PARTICIPANTS = 8
PARTICIPANT_COUNTS = ((0, 3), (1, 6), (2, 9), (3, 11), (4, 11), (5, 9), (6, 7), (7, 5), (8, 4))
BOOKING_COUNTS = ((1, 5), (2, 3), (3, 2))
BOOKED_SHARE = 1 / 3  # sessions with bookings
EVENT_SHARE = 0.2  # sessions published as events
GUEST_SHARE, SWITCHERS = 0.6, 2  # people who join as guests; people seen as both
RECASED_SHARE = 0.15  # sightings whose email is cased differently
ONE_FIELD_SHARE = 0.12  # guest sightings with the whole name in firstName
CANCELLED_SHARE = 0.25
BOOKING_GUESTS_SHARE = 0.3
ID_NAMESPACE = uuid.UUID("6f1d2c3e-5b7a-4c8d-9e0f-a1b2c3d4e5f6")  # ids made by mutations

OWNERS = (("Andrei", "Popescu"), ("Maya", "Lindqvist"))
WORKSPACE_DOMAIN = "northwind.studio"
# One word each, so "First Last" splits back at its first space.
FIRST_NAMES = (
    "Ava",
    "Liam",
    "Olivia",
    "Noah",
    "Emma",
    "Mateo",
    "Sophia",
    "Lucas",
    "Zoë",
    "José",
    "Søren",
    "Chloé",
    "Björn",
    "Ingrid",
    "Priya",
    "Arjun",
    "Mei",
    "Hiro",
    "Fatima",
    "Omar",
    "Leila",
    "Tomás",
    "Grace",
    "Samuel",
    "Nora",
    "Kwame",
    "Anaïs",
    "Ethan",
    "Hannah",
    "Ioana",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Garcia",
    "Brown",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Ångström",
    "Nguyễn",
    "Müller",
    "Núñez",
    "Okafor",
    "Rossi",
    "Schmidt",
    "Novak",
    "Silva",
    "Tanaka",
    "Haddad",
    "Patel",
    "Kim",
    "O'Brien",
    "Van der Berg",
    "Dumitrescu",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
TITLES = (
    "Weekly team sync",
    "Design review",
    "Customer onboarding",
    "Office hours",
    "Quarterly planning",
    "Product demo",
    "Coaching session",
    "Sprint retrospective",
    "Investor update",
    "Hiring panel",
    "Workshop: Writing async updates",
    "Webinar: Pricing that scales",
    "Community AMA",
    "Roadmap review",
    "1:1 check-in",
)
DESCRIPTIONS = (
    "Agenda and notes live in the shared doc.",
    "Bring your questions; we record the session.",
    "A walkthrough followed by Q&A.",
    "Short and focused: decisions only.",
    "",
)
TIME_ZONES = (
    "Europe/Bucharest",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Singapore",
)
MINUTES = (30, 45, 45, 60, 60, 90)
BOOKING_PAGES = 3


# (email, first name, last name) or (email, first name, last name, as a guest)
Row = tuple[str, str, str | None] | tuple[str, str, str | None, bool]


class Person(NamedTuple):
    """Someone to add to a session: `with_session` and `with_participant` take these."""

    email: str
    first_name: str
    last_name: str | None = None
    as_guest: bool = True


@dataclass(frozen=True)
class SessionsDataset:
    """One workspace's Sessions data, already in wire format.

    ``sessions`` and ``bookings`` are ordered by ``createdAt`` then ``id``, as the API
    lists them; ``participants`` holds each session's list, the owner first; ``events``
    embed the very session objects of ``sessions``.
    """

    seed: int
    now: datetime
    owners: tuple[Json, ...]
    sessions: tuple[Json, ...]
    participants: dict[str, tuple[Json, ...]]
    bookings: tuple[Json, ...]
    events: tuple[Json, ...]
    booking_pages: tuple[str, ...]
    _by_id: dict[str, Json] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {session["id"]: session for session in self.sessions})

    def session(self, session_id: str) -> Json | None:
        return self._by_id.get(session_id)

    # ------------------------------------------------------------ expectations

    def people(self) -> dict[str, dict[str, str | None]]:
        """Every distinct person (by lowercased email) among the sessions' participants
        other than their owners and among the bookings, with the name of the first
        sighting: participants in session order first, then bookings in list order. Every
        sighting of a generated person carries the same full name, and first names are one
        word, so the name splits back into its parts at the first space."""
        names: dict[str, str] = {}
        for session in self.sessions:
            for entry in self.participants[session["id"]]:
                if not entry["isOwner"]:
                    person = entry["user"] or entry["guest"]
                    parts = (person["firstName"], person["lastName"])
                    names.setdefault(person["email"].lower(), " ".join(p for p in parts if p))
        for booking in self.bookings:
            names.setdefault(booking["participantEmail"].lower(), booking["participantName"])
        people: dict[str, dict[str, str | None]] = {}
        for email, name in names.items():
            first, _, last = name.partition(" ")
            people[email] = {"first_name": first, "last_name": last or None, "name": name}
        return people

    def registrations(self) -> set[tuple[str, str, str]]:
        """``(email, session id, status)`` once per (person, session) pair: each participant
        other than the owner, and each booking's person. A pair is ``cancelled`` when a
        cancelled booking backs it, otherwise ``confirmed``."""
        pairs: set[tuple[str, str]] = set()
        cancelled: set[tuple[str, str]] = set()
        for booking in self.bookings:
            pair = (booking["participantEmail"].lower(), booking["sessionId"])
            pairs.add(pair)
            if booking["cancelled"]:
                cancelled.add(pair)
        for session_id, entries in self.participants.items():
            for entry in entries:
                if not entry["isOwner"]:
                    person = entry["user"] or entry["guest"]
                    pairs.add((person["email"].lower(), session_id))
        return {
            (email, session_id, "cancelled" if (email, session_id) in cancelled else "confirmed")
            for email, session_id in pairs
        }

    # ------------------------------------------------------------ changes

    def with_session(
        self,
        name: str | None = None,
        participants: Iterable[Person | Row] | None = None,
        *,
        start_at: datetime | None = None,
        minutes: int = 45,
    ) -> tuple[SessionsDataset, Json]:
        """A copy with one more session, created after everything else, hosted by a
        workspace owner, with `participants` or (when None) three known people as guests.
        It starts at `start_at` (by default a day after its creation) and has not ended."""
        number = len(self.sessions)
        created = self._next_moment()
        starts = created + timedelta(days=1) if start_at is None else start_at.astimezone(UTC)
        session = _session_object(
            self._id("session", number),
            name or TITLES[number % len(TITLES)],
            None,
            created,
            starts,
            starts + timedelta(minutes=minutes),
            None,
            TIME_ZONES[number % len(TIME_ZONES)],
        )
        if participants is None:
            rng = random.Random(f"{self.seed}:{number}")
            known = self.people()
            chosen = rng.sample(sorted(known), min(3, len(known)))
            people = [
                Person(e, known[e]["first_name"] or "", known[e]["last_name"]) for e in chosen
            ]
        else:
            people = [Person(*row) for row in participants]
        owner = self.owners[number % len(self.owners)]
        entries = [_entry(self._id("participant", self._entry_count()), owner, None, True)]
        grown = replace(
            self,
            sessions=(*self.sessions, session),
            participants={**self.participants, session["id"]: tuple(entries)},
        )
        for person in people:
            grown, _ = grown.with_participant(session["id"], *person)
        return grown, session

    def with_participant(
        self,
        session_id: str,
        email: str,
        first_name: str,
        last_name: str | None,
        as_guest: bool = True,
    ) -> tuple[SessionsDataset, Json]:
        """A copy where `session_id` lists one more participant, last. A workspace user
        keeps the user id they have elsewhere."""
        if self.session(session_id) is None:
            raise KeyError(session_id)
        listed = self.participants[session_id]
        if email.lower() in {(e["user"] or e["guest"])["email"].lower() for e in listed}:
            raise ValueError(f"{email} already takes part in session {session_id}")
        count = self._entry_count()
        person = {"id": "", "email": email, "firstName": first_name, "lastName": last_name}
        if as_guest:
            person["id"] = self._id("guest", count)
            entry = _entry(self._id("participant", count), None, person, False)
        else:
            person["id"] = self._user_id(email)
            entry = _entry(self._id("participant", count), person, None, False)
        grown = {**self.participants, session_id: (*listed, entry)}
        return replace(self, participants=grown), entry

    def with_booking(
        self, session_id: str, email: str, name: str, cancelled: bool = False
    ) -> tuple[SessionsDataset, Json]:
        """A copy with one more booking of `session_id` by `name` <`email`>, created after
        everything else, through the first booking page. The session itself is unchanged."""
        session = self.session(session_id)
        if session is None:
            raise KeyError(session_id)
        booking = _booking_object(
            self._id("booking", len(self.bookings)),
            session,
            self.booking_pages[0],
            name,
            email,
            [],
            cancelled,
            self._next_moment(),
        )
        return replace(self, bookings=(*self.bookings, booking)), booking

    def with_booking_cancelled(self, booking_id: str) -> tuple[SessionsDataset, Json]:
        """A copy where booking `booking_id` is cancelled, in the same place in the list."""
        for index, booking in enumerate(self.bookings):
            if booking["id"] == booking_id:
                cancelled = {**booking, "cancelled": True}
                rows = (*self.bookings[:index], cancelled, *self.bookings[index + 1 :])
                return replace(self, bookings=rows), cancelled
        raise KeyError(booking_id)

    def _next_moment(self) -> datetime:
        """A minute after the latest creation of any session or booking."""
        stamps = [row["createdAt"] for row in (*self.sessions, *self.bookings)]
        latest = max((parse_timestamp(stamp) for stamp in stamps), default=self.now)
        return latest + timedelta(minutes=1)

    def _entry_count(self) -> int:
        return sum(len(entries) for entries in self.participants.values())

    def _id(self, kind: str, number: int) -> str:
        """Ids of what mutations add: version 5, so never equal to a generated (version 4)
        id, and the same for the same history of changes."""
        return str(uuid.uuid5(ID_NAMESPACE, f"{self.seed}:{kind}:{number}"))

    def _user_id(self, email: str) -> str:
        for entries in self.participants.values():
            for entry in entries:
                if entry["user"] and entry["user"]["email"].lower() == email.lower():
                    return str(entry["user"]["id"])
        return str(uuid.uuid5(ID_NAMESPACE, f"{self.seed}:user:{email.lower()}"))


def iso(moment: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def generate_dataset(seed: int = 1, size: int = 60, now: datetime | None = None) -> SessionsDataset:
    """Build a workspace's worth of Sessions data drawn from `size` distinct people;
    identical for identical arguments."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE}")
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = ANCHOR if now is None else now.astimezone(UTC)
    rng = random.Random(seed)
    owners = _owners(rng)
    pool = _people(rng, size)
    pages = [_uuid(rng) for _ in range(BOOKING_PAGES)]
    reserved = set(rng.sample(range(size), max(2, size // 20)))  # people who only book
    active = [person for index, person in enumerate(pool) if index not in reserved]
    bookers_only = [pool[index] for index in sorted(reserved)]
    count = max(MIN_SESSIONS, round(size / 3 * rng.uniform(0.9, 1.1)))
    sessions = _schedule(rng, count, now)
    rosters = _rosters(rng, sessions, active)
    participants = _participants(rng, sessions, rosters, owners)
    bookings = _bookings(rng, sessions, rosters, active, bookers_only, pages, now)
    events = _events(rng, sessions)
    return SessionsDataset(
        seed=seed,
        now=now,
        owners=tuple(owners),
        sessions=tuple(sessions),
        participants=participants,
        bookings=tuple(bookings),
        events=tuple(events),
        booking_pages=tuple(pages),
    )


# ---------------------------------------------------------------- people


@dataclass(frozen=True)
class _Someone:
    first: str
    last: str
    email: str  # canonical: lowercase ASCII
    kind: str  # "user", "guest", or "both" (a guest first, a workspace user later)
    user_id: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def _owners(rng: random.Random) -> list[Json]:
    owners = []
    for first, last in OWNERS[: rng.randint(1, len(OWNERS))]:
        email = f"{_slug(first)}@{WORKSPACE_DOMAIN}"
        owners.append({"id": _uuid(rng), "email": email, "firstName": first, "lastName": last})
    return owners


def _people(rng: random.Random, size: int) -> list[_Someone]:
    used: set[str] = set()
    people = []
    switchers = set(rng.sample(range(size), SWITCHERS))
    for index in range(size):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{_slug(first)}.{_slug(last)}"
        domain = rng.choice(EMAIL_DOMAINS)
        email, number = f"{local}@{domain}", 1
        while email in used:
            number += 1
            email = f"{local}{number}@{domain}"
        used.add(email)
        kind = "both" if index in switchers else "guest" if rng.random() < GUEST_SHARE else "user"
        people.append(_Someone(first, last, email, kind, _uuid(rng)))
    return people


def _slug(name: str) -> str:
    """ASCII for an email's local part: "Søren Van der Berg" gives "soren", "vanderberg"."""
    folded = unicodedata.normalize("NFKD", name.replace("ø", "o").replace("Ø", "O")).lower()
    return re.sub(r"[^a-z]", "", folded)


def _recase(rng: random.Random, email: str) -> str:
    """The same address cased another way, as people type it."""
    local, _, domain = email.partition("@")
    forms = (
        email.upper(),
        f"{'.'.join(part.capitalize() for part in local.split('.'))}@{domain.capitalize()}",
        f"{local}@{domain.upper()}",
    )
    return rng.choice(forms)


# ---------------------------------------------------------------- sessions


def _schedule(rng: random.Random, count: int, now: datetime) -> list[Json]:
    """Sessions in creation order: ended ones over the last 60 days, a few that started in
    the last 24 hours (the latest still running), and upcoming ones over the next 30."""
    upcoming = round(count * UPCOMING_SHARE)
    windows = [(-PAST_DAYS * 24 + 1, -25)] * (count - upcoming - RECENT)  # hours from now
    windows += [(-23, -2)] * (RECENT - 1) + [(1, AHEAD_DAYS * 24)] * upcoming
    starts = [(_quarter(now + timedelta(hours=rng.uniform(*hours))), False) for hours in windows]
    starts.append((_quarter(now - timedelta(minutes=25)), True))  # still running
    sessions = []
    for starts_at, live in starts:
        minutes = rng.choice((60, 90)) if live else rng.choice(MINUTES)
        planned_end = starts_at + timedelta(minutes=minutes)
        ended = planned_end + timedelta(
            minutes=rng.randint(-10, 15), seconds=rng.randrange(60), milliseconds=_millis(rng)
        )
        lead = timedelta(hours=rng.uniform(1, 21 * 24), milliseconds=_millis(rng))
        created = min(starts_at, now) - lead
        description = rng.choice(DESCRIPTIONS) if rng.random() < 0.7 else None
        sessions.append(
            _session_object(
                _uuid(rng),
                rng.choice(TITLES),
                description,
                created,
                starts_at,
                planned_end,
                ended if ended <= now else None,
                rng.choice(TIME_ZONES),
            )
        )
    sessions.sort(key=lambda session: (session["createdAt"], session["id"]))
    return sessions


def _session_object(
    session_id: str,
    name: str,
    description: str | None,
    created: datetime,
    starts: datetime,
    planned_end: datetime,
    ended: datetime | None,
    time_zone: str,
) -> Json:
    return {
        "id": session_id,
        "name": name,
        "description": description,
        "createdAt": iso(created),
        "startAt": iso(starts),
        "plannedEnd": iso(planned_end),
        "endedAt": None if ended is None else iso(ended),
        "timeZone": time_zone,
        "booking": None,
        "event": None,
    }


def _rosters(
    rng: random.Random, sessions: list[Json], active: list[_Someone]
) -> dict[str, list[_Someone]]:
    """Who takes part in each session besides the owner; everyone active at least once."""
    rosters = {
        session["id"]: rng.sample(active, min(_weighted(rng, PARTICIPANT_COUNTS), len(active)))
        for session in sessions
    }
    seen = {person.email for roster in rosters.values() for person in roster}
    for person in active:
        if person.email not in seen:
            room = [sid for sid, roster in rosters.items() if len(roster) < MAX_PARTICIPANTS]
            rosters[rng.choice(room)].append(person)
    return rosters


def _participants(
    rng: random.Random,
    sessions: list[Json],
    rosters: dict[str, list[_Someone]],
    owners: list[Json],
) -> dict[str, tuple[Json, ...]]:
    """Each session's participant list, the owner first, then its people in roster order."""
    sightings: list[tuple[str, _Someone, bool]] = []  # (session id, person, as a guest)
    users_seen: set[str] = set()
    for session in sessions:
        for person in rosters[session["id"]]:
            as_guest = person.kind == "guest" or (
                person.kind == "both" and person.email not in users_seen
            )
            users_seen.add(person.email)
            sightings.append((session["id"], person, as_guest))
    recased = {i for i in range(len(sightings)) if rng.random() < RECASED_SHARE}
    _ensure_recased(sightings, recased)
    guests = [i for i, (_, _, as_guest) in enumerate(sightings) if as_guest]
    one_field = {i for i in guests if rng.random() < ONE_FIELD_SHARE}
    for index in guests[::2]:  # at least three, when there are guests enough
        if len(one_field) >= 3:
            break
        one_field.add(index)

    entries: dict[str, list[Json]] = {
        session["id"]: [_entry(_uuid(rng), dict(rng.choice(owners)), None, True)]
        for session in sessions
    }
    for index, (session_id, person, as_guest) in enumerate(sightings):
        email = _recase(rng, person.email) if index in recased else person.email
        first: str = person.first
        last: str | None = person.last
        if index in one_field:
            first, last = person.name, rng.choice((None, ""))
        shown = {"id": "", "email": email, "firstName": first, "lastName": last}
        if as_guest:
            shown["id"] = _uuid(rng)
            entries[session_id].append(_entry(_uuid(rng), None, shown, False))
        else:
            shown["id"] = person.user_id
            entries[session_id].append(_entry(_uuid(rng), shown, None, False))
    return {session_id: tuple(rows) for session_id, rows in entries.items()}


def _ensure_recased(sightings: list[tuple[str, _Someone, bool]], recased: set[int]) -> None:
    """At least three people seen more than once show up under two spellings."""
    seen: dict[str, list[int]] = defaultdict(list)
    for index, (_, person, _) in enumerate(sightings):
        seen[person.email].append(index)
    for indexes in [found for found in seen.values() if len(found) > 1][:3]:
        recased.discard(indexes[0])
        recased.add(indexes[-1])


def _entry(entry_id: str, user: Json | None, guest: Json | None, owner: bool) -> Json:
    return {"id": entry_id, "isOwner": owner, "user": user, "guest": guest}


# ---------------------------------------------------------------- bookings and events


def _bookings(
    rng: random.Random,
    sessions: list[Json],
    rosters: dict[str, list[_Someone]],
    active: list[_Someone],
    bookers_only: list[_Someone],
    pages: list[str],
    now: datetime,
) -> list[Json]:
    """1-3 bookings on a third of the sessions, each (person, session) at most once: some by
    the session's participants, some by others, and each booker-only person at least once.
    The first booking of a session made it (same ``createdAt``) and is its ``booking``."""
    booked = sorted(rng.sample(range(len(sessions)), max(1, round(len(sessions) * BOOKED_SHARE))))
    firsts: dict[str, list[_Someone]] = defaultdict(list)
    for turn, person in enumerate(bookers_only):
        firsts[sessions[booked[turn % len(booked)]]["id"]].append(person)
    made: list[tuple[Json, bool]] = []  # (booking, its person takes part in the session)
    for position in booked:
        session = sessions[position]
        roster = rosters[session["id"]]
        bookers = list(firsts[session["id"]])
        for _ in range(max(_weighted(rng, BOOKING_COUNTS) - len(bookers), 0)):
            taken = {person.email for person in bookers}
            inside = [person for person in roster if person.email not in taken]
            outside = [p for p in active if p not in roster and p.email not in taken]
            choices = inside if inside and (rng.random() < 0.5 or not outside) else outside
            if choices:
                bookers.append(rng.choice(choices))
        if not bookers:
            continue
        rng.shuffle(bookers)
        created = parse_timestamp(session["createdAt"])
        span = max((min(parse_timestamp(session["startAt"]), now) - created).total_seconds(), 60)
        for number, person in enumerate(bookers):
            others = [p.email for p in roster if p.email != person.email]
            guests = []
            if others and rng.random() < BOOKING_GUESTS_SHARE:
                guests = rng.sample(others, min(len(others), rng.randint(1, 2)))
            at = created if number == 0 else created + timedelta(seconds=rng.uniform(1, span))
            email = _recase(rng, person.email) if rng.random() < RECASED_SHARE else person.email
            booking = _booking_object(
                _uuid(rng),
                session,
                rng.choice(pages),
                person.name,
                email,
                guests,
                rng.random() < CANCELLED_SHARE,
                at,
            )
            made.append((booking, person in roster))
        first = made[-len(bookers)][0]
        session["booking"] = {key: first[key] for key in BOOKING_SUMMARY}
    _ensure_cancelled(made)
    bookings = [booking for booking, _ in made]
    bookings.sort(key=lambda booking: (booking["createdAt"], booking["id"]))
    return bookings


BOOKING_SUMMARY = ("id", "name", "participantName", "participantEmail", "guests")


def _booking_object(
    booking_id: str,
    session: Json,
    page_id: str,
    name: str,
    email: str,
    guests: list[str],
    cancelled: bool,
    created: datetime,
) -> Json:
    return {
        "id": booking_id,
        "name": session["name"],
        "sessionId": session["id"],
        "bookingPageId": page_id,
        "startAt": session["startAt"],
        "endAt": session["plannedEnd"],
        "participantName": name,
        "participantEmail": email,
        "guests": guests,
        "cancelled": cancelled,
        "createdAt": iso(created),
    }


def _ensure_cancelled(made: list[tuple[Json, bool]]) -> None:
    """Cancelled and live bookings both among participants and among others."""
    for inside in (True, False):
        mine = [booking for booking, flag in made if flag is inside]
        if len(mine) >= 2 and all(booking["cancelled"] for booking in mine):
            mine[0]["cancelled"] = False
        if len(mine) >= 2 and not any(booking["cancelled"] for booking in mine):
            mine[-1]["cancelled"] = True


def _events(rng: random.Random, sessions: list[Json]) -> list[Json]:
    """A fifth of the sessions are published (or draft) events, in session order."""
    chosen = sorted(rng.sample(range(len(sessions)), max(1, round(len(sessions) * EVENT_SHARE))))
    events = []
    for number, position in enumerate(chosen):
        session = sessions[position]
        event_id = _uuid(rng)
        slug = f"{re.sub(r'[^a-z0-9]+', '-', session['name'].lower()).strip('-')}-{event_id[:6]}"
        session["event"] = {"id": event_id, "slug": slug}
        events.append(
            {"id": event_id, "slug": slug, "published": number % 3 != 2, "session": session}
        )
    return events


# ---------------------------------------------------------------- helpers


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _quarter(moment: datetime) -> datetime:
    """Down to the quarter hour, as people schedule."""
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def _millis(rng: random.Random) -> int:
    return rng.randrange(1000)


def _weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([value for value, _ in table], weights=[w for _, w in table])[0]
