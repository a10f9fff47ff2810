"""Deterministic synthetic data for the Sessionboard emulator.

An organisation's contacts and a handful of its events, each with a programme of sessions
whose ``participants`` and ``speakers`` are drawn from those contacts. The same
``(seed, contacts)`` pair always yields identical JSON: all randomness flows from one
``random.Random(seed)`` and all dates are offsets from a fixed anchor, never the wall clock.

Objects are stored exactly as Sessionboard sends them (snake_case fields, integer ids,
``null`` for an unknown room or capacity), including what clients must tolerate: contacts
without a first or last name (``null``, ``""`` or no key at all), names outside ASCII, and
timestamps both with and without milliseconds.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Json = dict[str, Any]

ANCHOR = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
STATUSES = ("accepted", "accept_queue", "pending", "decline_queue", "declined")
STATUS_WEIGHTS = (
    ("accepted", 55),
    ("accept_queue", 9),
    ("pending", 16),
    ("decline_queue", 7),
    ("declined", 13),
)
PARTICIPANT_COUNTS = ((0, 6), (1, 8), (2, 12), (3, 14), (4, 15), (5, 14), (6, 12), (7, 10), (8, 9))
SPEAKER_COUNTS = ((0, 15), (1, 40), (2, 30), (3, 15))
ROLES = (
    (("attendee", "Attendee"), 60),
    (("moderator", "Moderator"), 12),
    (("panelist", "Panelist"), 14),
    (("host", "Host"), 6),
    (("sponsor_rep", "Sponsor Representative"), 8),
)
IDLE_SHARE = 0.12  # contacts kept out of every session
SPEAKER_ALSO_PARTICIPANT = 0.03  # chance a session lists one of its speakers as participant

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
    "Łukasz",
    "Søren",
    "Chloé",
    "François",
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
    "Nikolai",
    "Grace",
    "Samuel",
    "Nora",
    "Kwame",
    "Aiyana",
    "İlkay",
    "Dương",
    "静",
    "美咲",
    "Seán",
    "Anaïs",
    "Jürgen",
    "Małgorzata",
    "Ethan",
    "Hannah",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Garcia",
    "Brown",
    "Miller",
    "Davis",
    "Martinez",
    "Wilson",
    "Anderson",
    "Ångström",
    "Nguyễn",
    "Müller",
    "Núñez",
    "Øvergaard",
    "Kowalczyk",
    "Wiśniewski",
    "王",
    "佐藤",
    "O'Brien",
    "Okafor",
    "Rossi",
    "Schmidt",
    "Novak",
    "Silva",
    "Tanaka",
    "Haddad",
    "Fischer",
    "Patel",
    "Kim",
    "Lee",
    "Dubois",
    "Çelik",
    "Van der Berg",
    "Thompson",
    "Walker",
    "Young",
)
COMPANIES = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Pied Piper",
    "Nordström & Söner",
    "Café Société",
    "Tyrell Systems",
    "Cyberdyne",
    "株式会社サンプル",
    "Soylent Foods",
    "Vandelay Industries",
)
JOB_TITLES = (
    "CEO",
    "CTO",
    "VP Engineering",
    "Product Manager",
    "Software Engineer",
    "Data Scientist",
    "Marketing Director",
    "Designer",
    "Community Manager",
    "Head of People",
    "Consultant",
    "Researcher",
)
EVENTS = (
    ("Future of Work Summit 2026", "America/New_York"),
    ("DevOps Days Lisbon", "Europe/Lisbon"),
    ("Nordic Design Week", "Europe/Oslo"),
    ("APAC Growth Forum", "Asia/Singapore"),
    ("Data & AI Conference", "America/Los_Angeles"),
    ("Festival der Ideen", "Europe/Berlin"),
    ("Cloud Native Days Tōkyō", "Asia/Tokyo"),
)
FORMATS = ("Keynote", "Workshop", "Panel", "Fireside chat", "Talk", "Lightning talks", "Roundtable")
TOPICS = (
    "Scaling Postgres",
    "Hiring in a remote world",
    "Designing for accessibility",
    "The economics of AI",
    "Observability without tears",
    "Zero-trust networking",
    "Building developer communities",
    "Product-led growth",
    "Résumé-free hiring",
    "Sustainable infrastructure",
    "GraphQL federation in practice",
    "Security for startups",
    "Leading through change",
    "Data contracts",
    "Café culture and creativity",
)
ROOMS = ("Main Stage", "Hall A", "Hall B", "Room 101", "Room 102", "Workshop Loft", "Salle Érable")
SESSION_MINUTES = (30, 45, 45, 60, 60, 90)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
TRANSLITERATE = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "đ": "d"})


@dataclass(frozen=True)
class SessionboardDataset:
    """One organisation's Sessionboard data, already in wire format."""

    events: tuple[Json, ...]
    sessions_by_event: dict[int, tuple[Json, ...]]
    contacts: tuple[Json, ...]
    _memberships: dict[int, tuple[tuple[int, Json], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        memberships: dict[int, list[tuple[int, Json]]] = {}
        for event in self.events:
            for session in self.sessions_by_event[event["id"]]:
                people = session["participants"] + session["speakers"]
                for contact_id in dict.fromkeys(person["id"] for person in people):
                    memberships.setdefault(contact_id, []).append((event["id"], session))
        frozen = {contact_id: tuple(rows) for contact_id, rows in memberships.items()}
        object.__setattr__(self, "_memberships", frozen)

    def sessions_of(self, contact_id: int) -> list[tuple[int, Json]]:
        """(event id, session) for every session the contact is in as participant or
        speaker, each once, in event order and then session id order."""
        return list(self._memberships.get(contact_id, ()))


def iso(moment: datetime) -> str:
    """UTC with a ``Z``; milliseconds only when the moment has any, as Sessionboard does."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if moment.microsecond else f"{text}Z"


def parse_timestamp(text: str) -> datetime:
    """The inverse of `iso`; naive input is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def generate_dataset(seed: int = 1, contacts: int = 300) -> SessionboardDataset:
    """Build an organisation's worth of Sessionboard data; identical for identical arguments."""
    if not 0 <= contacts <= 500_000:
        raise ValueError("contacts must be between 0 and 500000")
    rng = random.Random(seed)
    people = _contacts(rng, contacts)
    events = _events(rng)
    sessions = _sessions(rng, events, people)
    return SessionboardDataset(
        events=tuple(events),
        sessions_by_event={event["id"]: tuple(sessions[event["id"]]) for event in events},
        contacts=tuple(people),
    )


# ---------------------------------------------------------------- contacts


def _contacts(rng: random.Random, total: int) -> list[Json]:
    """Contacts in creation order (strictly increasing ``created_at``) with scattered ids."""
    ids = rng.sample(range(10_000, 1_000_000), total)
    start = ANCHOR - timedelta(days=400)
    step = max(360 * 24 * 3600 // max(total, 1), 2)
    no_last = min(total, max(3, total // 50))
    no_first = min(total - no_last, max(3, total // 75))
    marked = rng.sample(range(total), no_last + no_first)
    # Each part goes missing three ways: null, "" and no key at all.
    missing = {index: ("last_name", order % 3) for order, index in enumerate(marked[:no_last])}
    missing |= {index: ("first_name", order % 3) for order, index in enumerate(marked[no_last:])}
    people = []
    for index, contact_id in enumerate(ids):
        offset = index * step + rng.randrange(step - 1)
        created = start + timedelta(seconds=offset, milliseconds=_millis(rng))
        updated = created + _later(rng)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = ".".join(filter(None, (_slug(first), _slug(last))))
        names: dict[str, str | None] = {"first_name": first, "last_name": last}
        if index in missing:
            part, form = missing[index]
            if form == 2:
                del names[part]
            else:
                names[part] = (None, "")[form]
            local = _slug(names.get("first_name") or names.get("last_name") or "")
        email = f"{local or 'contact'}.{index + 1}@{rng.choice(EMAIL_DOMAINS)}"
        people.append(
            {
                "id": contact_id,
                **names,
                "email": email,
                "company_name": rng.choice(COMPANIES) if rng.random() < 0.85 else None,
                "title": rng.choice(JOB_TITLES) if rng.random() < 0.8 else None,
                "created_at": iso(created),
                "updated_at": iso(updated),
            }
        )
    return people


def _slug(name: str) -> str:
    """ASCII for an email's local part: "Łukasz Ångström" gives "lukasz" and "angstrom"."""
    folded = unicodedata.normalize("NFKD", name.translate(TRANSLITERATE)).lower()
    return re.sub(r"[^a-z]", "", folded)


def _millis(rng: random.Random) -> int:
    """Half the timestamps carry milliseconds, half fall on a whole second."""
    return rng.randrange(1, 1000) if rng.random() < 0.5 else 0


def _later(rng: random.Random) -> timedelta:
    """How long after creation a record was last updated (often never)."""
    minutes = rng.choice((0, 0, 0, 3, 45, 600, 4_000, 20_000, 40_000))
    if minutes == 0:
        return timedelta(0)
    return timedelta(minutes=minutes, seconds=rng.randrange(60), milliseconds=_millis(rng))


# ---------------------------------------------------------------- events and sessions


def _events(rng: random.Random) -> list[Json]:
    count = rng.randint(4, 6)
    ids = sorted(rng.sample(range(1_000, 100_000), count))
    created_days = sorted(rng.sample(range(200, 700), count), reverse=True)
    events = []
    for event_id, (name, timezone), days_ago in zip(
        ids, rng.sample(EVENTS, count), created_days, strict=True
    ):
        created = ANCHOR - timedelta(days=days_ago, seconds=rng.randrange(86_400))
        created += timedelta(milliseconds=_millis(rng))
        events.append(
            {
                "id": event_id,
                "name": name,
                "timezone": timezone,
                "created_at": iso(created),
                "updated_at": iso(created + _later(rng)),
            }
        )
    return events


def _sessions(rng: random.Random, events: list[Json], people: list[Json]) -> dict[int, list[Json]]:
    """Each event's programme, ordered by session id; one event needs two pages of 100."""
    counts = [rng.randint(30, 160) for _ in events]
    big = rng.randrange(len(counts))
    counts[big] = max(counts[big], rng.randint(101, 160))
    ids = rng.sample(range(100_000, 1_000_000), sum(counts))
    idle = set(rng.sample(range(len(people)), math.ceil(len(people) * IDLE_SHARE)))
    active = [person for index, person in enumerate(people) if index not in idle]
    programme: dict[int, list[Json]] = {}
    for event, count in zip(events, counts, strict=True):
        start = ANCHOR + timedelta(days=rng.randint(-150, 200))
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        days = rng.randint(1, 3)
        prefix = "".join(word[0] for word in event["name"].split() if word[0].isalpha())[:3]
        mine, ids = sorted(ids[:count]), ids[count:]
        programme[event["id"]] = [
            _session(rng, session_id, f"{prefix.upper()}-{number:03d}", start, days, active)
            for number, session_id in enumerate(mine, start=1)
        ]
    everything = [session for event in events for session in programme[event["id"]]]
    _ensure_every_status(rng, everything)
    _ensure_speakers_who_participate(everything, people)
    return programme


def _session(
    rng: random.Random,
    session_id: int,
    friendly_id: str,
    event_start: datetime,
    days: int,
    active: list[Json],
) -> Json:
    starts = event_start + timedelta(
        days=rng.randrange(days), hours=rng.randint(8, 17), minutes=rng.choice((0, 15, 30, 45))
    )
    ends = starts + timedelta(minutes=rng.choice(SESSION_MINUTES))
    created = min(event_start, ANCHOR) - timedelta(
        days=rng.randint(2, 120), seconds=rng.randrange(86_400), milliseconds=_millis(rng)
    )
    updated = min(created + _later(rng), ANCHOR)  # created is always before the anchor
    participants = rng.sample(active, min(_weighted(rng, PARTICIPANT_COUNTS), len(active)))
    speakers = rng.sample(active, min(_weighted(rng, SPEAKER_COUNTS), len(active)))
    listed = {person["id"] for person in participants}
    if (
        speakers
        and len(participants) < 8
        and rng.random() < SPEAKER_ALSO_PARTICIPANT
        and speakers[0]["id"] not in listed
    ):
        participants.append(speakers[0])
    return {
        "id": session_id,
        "friendly_id": friendly_id,
        "title": f"{rng.choice(FORMATS)}: {rng.choice(TOPICS)}",
        "status": _weighted(rng, STATUS_WEIGHTS),
        "starts_at": iso(starts),
        "ends_at": iso(ends),
        "capacity": rng.choice((20, 40, 50, 80, 120, 200, 500)) if rng.random() < 0.9 else None,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "room": rng.choice(ROOMS) if rng.random() < 0.85 else None,
        "speakers": [_person(speaker) for speaker in speakers],
        "participants": [_person(person, _weighted(rng, ROLES)) for person in participants],
    }


def _person(contact: Json, role: tuple[str, str] | None = None) -> Json:
    """A contact as a session lists it, with the same name parts (or gaps) as the contact."""
    person = {"id": contact["id"]}
    person |= {key: contact[key] for key in ("first_name", "last_name") if key in contact}
    person["email"] = contact["email"]
    if role is not None:
        person["participant_role"] = {"slug": role[0], "name": role[1]}
    return person


def _ensure_every_status(rng: random.Random, sessions: list[Json]) -> None:
    seen = {session["status"] for session in sessions}
    for status in STATUSES:
        if status not in seen and sessions:
            rng.choice(sessions)["status"] = status


def _ensure_speakers_who_participate(sessions: list[Json], people: list[Json]) -> None:
    """At least three sessions list a speaker among their participants too."""
    contacts = {person["id"]: person for person in people}
    pairs = sum(1 for session in sessions if _speaker_participants(session))
    for session in sessions:
        if pairs >= 3:
            return
        if (
            session["speakers"]
            and len(session["participants"]) < 8
            and not _speaker_participants(session)
        ):
            speaker = contacts[session["speakers"][0]["id"]]
            session["participants"].append(_person(speaker, ROLES[1][0]))
            pairs += 1


def _speaker_participants(session: Json) -> set[int]:
    speakers = {person["id"] for person in session["speakers"]}
    return speakers & {person["id"] for person in session["participants"]}


def _weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([value for value, _ in table], weights=[w for _, w in table])[0]
