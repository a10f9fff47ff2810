"""A seeded Boxpressd business (a venue or a brand) and its users' smoke sessions.

Sessions are kept exactly as ``GET /{businessType}s/{businessId}/sessions`` sends them, in
the order it sends them (``createdAt`` descending, ties by ``id`` descending), so tests can
compare pages with slices of ``sessions``. What clients must tolerate is built in and
deterministic: ``rating``, ``note``, ``venue`` and the user's ``avatarUrl`` are missing
keys (never ``null``) on a fixed share of sessions, ``startedAt``, ``endedAt``,
``durationSeconds`` and ``cigar`` on a few, a handful of sessions share a ``createdAt``,
and display names are not all ASCII. Which sessions are featured is kept beside them,
since the wire never shows it. Every moment is counted back from ``ANCHOR``, never from the
wall clock, so the same arguments always give the same data.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

Json = dict[str, Any]

ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)
SPAN = timedelta(days=365)  # sessions are created during the year before the anchor
BUSINESS_TYPES = ("venue", "brand")
CDN = "https://cdn.boxpressd.com"

# Venues and brands the emulator knows of besides the key's own (a key on them is a 403).
VENUES = {
    "stogies-chapin": "Stogies Cigar Lounge & Tap House",
    "other-lounge": "The Other Lounge",
    "smoke-and-oak": "Smoke & Oak Social Club",
    "la-fumee-montreal": "La Fumée Montréal",
    "harbor-humidor": "Harbor Humidor",
}
BRANDS = {
    "example-cigars": (
        "Example Cigars",
        ("Philosopher's Folly", "Midnight Ledger", "Copper Lantern"),
    ),
    "acme-cigars": ("Acme Cigars", ("Roadrunner Robusto", "Anvil Maduro", "Desert Toro")),
    "casa-nunez": ("Casa Núñez", ("Reserva Añejo", "Corona Dorada", "Señorial No. 4")),
    "old-harbor": ("Old Harbor Tobacco Co.", ("Lighthouse Lancero", "Tidewater Toro")),
    "maison-bel-air": ("Maison Bel-Air", ("Crème Brûlée Petit", "Château Churchill")),
}
GENERIC_LINES = ("Robusto", "Toro", "Maduro", "Connecticut Corona")

FIXED_NAMES = ("Trevor B.", "Zoë K.", "José M.")  # always among the first users
FIRST_NAMES = (
    "Trevor", "Zoë", "José", "Marcus", "Dana", "Luis", "Renée", "Björn", "Chloé", "Søren",
    "Ángel", "Miguel", "Hank", "Wes", "Priya", "Kenji", "Ikaika", "Tomás", "Łukasz",
    "Darnell", "Colleen", "Rafael", "Nikolai", "Giulia", "François", "Dmitri", "Ahmad",
    "Sinéad", "Jürgen", "Maëlle", "Beau", "Carlos", "Ingrid", "Otis", "Yusuf", "Fátima",
)  # fmt: skip
INITIALS = tuple("ABCDEFGHJKLMNOPRSTVWZ") + ("Ö", "Ø", "Ž")
NOTES = (
    "Excellent evening smoke.",
    "Paired with a café cortado — perfect.",
    "Smooth draw, even burn.",
    "A bit tight at first, opened up after the first third.",
    "Birthday cigar 🎉",
    "Notes of cedar and cocoa.",
    "Too windy on the patio.",
    "Crème brûlée sweetness on the foot.",
    "Great with the house old fashioned.",
    "Señor Núñez recommended this one.",
)
RATINGS = (3, 3.5, 3.8, 4, 4.2, 4.5, 4.8, 5)  # numbers on the wire, some whole

# Shares of sessions without a key: roughly a quarter to a third for the optional ones,
# a few for the rest.
ABSENT_SHARES = {"rating": 0.25, "note": 0.35, "venue": 0.3}
AVATARLESS_SHARE = 0.25  # of sessions, reached by picking whole users without an avatar
FEW_SHARE = 0.03  # startedAt, endedAt, durationSeconds, cigar
FEATURED_SHARE = 0.15
TIE_SHARE = 0.01


@dataclass(frozen=True)
class Business:
    type: str  # "venue" or "brand"
    id: str  # a slug such as "stogies-chapin"
    name: str


@dataclass(frozen=True)
class BoxpressdDataset:
    """One business's sessions in wire order, their users, and which are featured."""

    seed: int
    business: Business
    sessions: tuple[Json, ...]
    people: tuple[Json, ...]  # every user object, in the order the users were made
    featured: frozenset[str]  # ids of featured sessions
    _by_user: dict[str, tuple[Json, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_user: dict[str, list[Json]] = {}
        for session in self.sessions:
            by_user.setdefault(session["user"]["id"], []).append(session)
        frozen = {user_id: tuple(rows) for user_id, rows in by_user.items()}
        object.__setattr__(self, "_by_user", frozen)

    def users(self) -> dict[str, str]:
        """Display name by user id, in the order the users were made."""
        return {person["id"]: person["displayName"] for person in self.people}

    def sessions_of(self, user_id: str) -> list[Json]:
        """The user's sessions in the API's order; none for an unknown user."""
        return list(self._by_user.get(user_id, ()))

    def is_featured(self, session: Json) -> bool:
        return session["id"] in self.featured

    def rehomed(self, business_type: str, business_id: str) -> BoxpressdDataset:
        """The same sessions (ids, users, times, gaps, featured) as another business's:
        a venue's sessions happen at it, a brand's cigars are its own. Data sets are made
        without knowing which account will serve them, so the emulator moves them."""
        target = business_named(business_type, business_id)
        if target == self.business:
            return self
        source_cigars = {c["id"]: i for i, c in enumerate(catalogue_for(self.business))}
        cigars, venues = catalogue_for(target), _venues_for(target)
        moved = []
        for session in self.sessions:
            row = dict(session)
            if "cigar" in row:
                row["cigar"] = dict(cigars[source_cigars[row["cigar"]["id"]] % len(cigars)])
            if "venue" in row and (target.type == "venue" or self.business.type == "venue"):
                row["venue"] = dict(venues[zlib.crc32(row["id"].encode()) % len(venues)])
            moved.append(row)
        return replace(self, business=target, sessions=tuple(moved))

    def extended(
        self, count: int, users: Sequence[str] | None = None
    ) -> tuple[BoxpressdDataset, list[Json]]:
        """This data set with `count` more sessions, created one minute apart after the
        newest, by `users` in turn (existing ids) or each by a new user; and those sessions,
        oldest first. None of them is featured and every one has every key."""
        if count < 0:
            raise ValueError("count must not be negative")
        known = {person["id"]: person for person in self.people}
        chosen = list(users) if users is not None else None
        if chosen is not None:
            if not chosen and count:
                raise ValueError("users must name at least one user")
            if unknown := [user_id for user_id in chosen if user_id not in known]:
                raise ValueError(f"Unknown user {unknown[0]!r}")
        rng = random.Random(f"boxpressd:{self.seed}:{len(self.sessions)}:{count}:{chosen}")
        newest = max((parse_timestamp(s["createdAt"]) for s in self.sessions), default=ANCHOR)
        taken_sessions = {session["id"] for session in self.sessions}
        taken_users = set(known)
        names = {person["displayName"] for person in self.people}
        cigars = catalogue_for(self.business)
        venues = _venues_for(self.business)
        added, people = [], list(self.people)
        for index in range(count):
            if chosen is not None:
                user = known[chosen[index % len(chosen)]]
            else:
                user = _new_user(rng, taken_users, names)
                people.append(user)
            session_id = _fresh_id(rng, "ses_", 10_000_000, 100_000_000, taken_sessions)
            created = newest + timedelta(minutes=index + 1)
            added.append(_session(rng, session_id, created, user, cigars, venues))
        everything = sorted((*self.sessions, *added), key=wire_order, reverse=True)
        grown = replace(self, sessions=tuple(everything), people=tuple(people))
        return grown, added


def iso(moment: datetime) -> str:
    """UTC with milliseconds and ``Z``, as Boxpressd sends every timestamp."""
    moment = moment.astimezone(UTC)
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """ISO 8601; naive input (and a bare date, at its midnight) is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def wire_order(session: Json) -> tuple[str, str]:
    """Sort key of the API's order, reversed: every timestamp has the same shape and every
    id the same length, so comparing the strings compares moments and ids."""
    return session["createdAt"], session["id"]


def business_named(business_type: str, business_id: str) -> Business:
    """A business by type and slug; names for slugs outside the catalogue come from the slug."""
    if business_type not in BUSINESS_TYPES:
        raise ValueError(f"business_type must be one of {list(BUSINESS_TYPES)}")
    if not business_id:
        raise ValueError("business_id must not be empty")
    known = VENUES.get(business_id) if business_type == "venue" else None
    if business_type == "brand" and business_id in BRANDS:
        known = BRANDS[business_id][0]
    name = known or " ".join(word.capitalize() for word in business_id.split("-"))
    return Business(business_type, business_id, name)


def known_businesses() -> frozenset[tuple[str, str]]:
    """(type, id) of every venue and brand in the catalogue."""
    return frozenset({("venue", slug) for slug in VENUES} | {("brand", slug) for slug in BRANDS})


def catalogue_for(business: Business) -> tuple[Json, ...]:
    """The cigars a business's sessions are smoked with: the whole catalogue at a venue,
    the brand's own lines for a brand (generic lines for a brand outside the catalogue)."""
    cigars = []
    number = 10_001
    for slug, (brand, lines) in BRANDS.items():
        for line in lines:
            if business.type == "venue" or slug == business.id:
                cigars.append(_cigar(f"cgr_{number}", line, brand))
            number += 1
    if not cigars:
        for line in GENERIC_LINES:
            code = 900_000 + zlib.crc32(f"{business.id}/{line}".encode()) % 100_000
            cigars.append(_cigar(f"cgr_{code}", f"{business.name} {line}", business.name))
    return tuple(cigars)


def generate_dataset(
    seed: int = 1,
    sessions: int = 300,
    users: int = 60,
    business_type: str = "venue",
    business_id: str = "stogies-chapin",
) -> BoxpressdDataset:
    """A business's worth of Boxpressd sessions; identical for identical arguments."""
    if not 1 <= users <= 100_000:
        raise ValueError("users must be between 1 and 100000")
    if not users <= sessions <= 1_000_000:
        raise ValueError("sessions must be between users (each has one) and 1000000")
    business = business_named(business_type, business_id)
    rng = random.Random(seed)
    people = _users(rng, users)
    owners = _owners(rng, users, sessions)
    cigars, venues = catalogue_for(business), _venues_for(business)
    ids = [f"ses_{n}" for n in rng.sample(range(10_000_000, 100_000_000), sessions)]
    created = _created(rng, sessions)
    rows = [
        _session(rng, session_id, moment, people[owner], cigars, venues)
        for session_id, moment, owner in zip(ids, created, owners, strict=True)
    ]
    _drop_optional(rng, rows, people, owners)
    featured = frozenset(row["id"] for row in rng.sample(rows, round(sessions * FEATURED_SHARE)))
    return BoxpressdDataset(
        seed=seed,
        business=business,
        sessions=tuple(sorted(rows, key=wire_order, reverse=True)),
        people=tuple(people),
        featured=featured,
    )


# ---------------------------------------------------------------- users


def _users(rng: random.Random, total: int) -> list[Json]:
    ids = rng.sample(range(100_000, 1_000_000), total)
    pool = [f"{first} {initial}." for first in FIRST_NAMES for initial in INITIALS]
    rest = [name for name in pool if name not in FIXED_NAMES]
    rng.shuffle(rest)
    names = list(FIXED_NAMES) + rest
    # Past the pool's size names repeat: different users may share a display name.
    return [
        _user(f"usr_{user_id}", names[index % len(names)], avatar=True)
        for index, user_id in enumerate(ids)
    ]


def _user(user_id: str, name: str, *, avatar: bool) -> Json:
    user = {"id": user_id, "displayName": name}
    if avatar:
        user["avatarUrl"] = f"{CDN}/users/{user_id}.jpg"
    return user


def _new_user(rng: random.Random, taken: set[str], names: set[str]) -> Json:
    user_id = _fresh_id(rng, "usr_", 100_000, 1_000_000, taken)
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(INITIALS)}."
    for _ in range(20):  # a name not used yet, when one is found quickly
        if name not in names:
            break
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(INITIALS)}."
    names.add(name)
    return _user(user_id, name, avatar=rng.random() < 1 - AVATARLESS_SHARE)


def _owners(rng: random.Random, users: int, sessions: int) -> list[int]:
    """Which user smoked each session: everyone once, the rest heavy-tailed so a few
    regulars have many sessions."""
    weights = [rng.paretovariate(1.1) for _ in range(users)]
    owners = list(range(users)) + rng.choices(range(users), weights=weights, k=sessions - users)
    rng.shuffle(owners)
    return owners


def _fresh_id(rng: random.Random, prefix: str, low: int, high: int, taken: set[str]) -> str:
    while True:
        candidate = f"{prefix}{rng.randrange(low, high)}"
        if candidate not in taken:
            taken.add(candidate)
            return candidate


# ---------------------------------------------------------------- sessions


def _created(rng: random.Random, total: int) -> list[datetime]:
    """Creation moments over the year before the anchor; a few repeat another's exactly so
    the order's tie-break is exercised."""
    start = ANCHOR - SPAN
    seconds = int(SPAN.total_seconds()) - 3600
    moments = [
        start + timedelta(seconds=rng.randrange(seconds), milliseconds=rng.randrange(1000))
        for _ in range(total)
    ]
    ties = max(int(total * TIE_SHARE), 1) if total >= 2 else 0
    for _ in range(ties):
        source, target = rng.sample(range(total), 2)
        moments[target] = moments[source]
    return moments


def _session(
    rng: random.Random,
    session_id: str,
    created: datetime,
    user: Json,
    cigars: Sequence[Json],
    venues: Sequence[Json],
) -> Json:
    """A complete session: logged a little after it ended, whole seconds long."""
    ended = (created - timedelta(minutes=rng.randrange(0, 25))).replace(microsecond=0)
    duration = rng.randrange(25 * 60, 150 * 60)
    return {
        "id": session_id,
        "createdAt": iso(created),
        "startedAt": iso(ended - timedelta(seconds=duration)),
        "endedAt": iso(ended),
        "durationSeconds": duration,
        "rating": rng.choice(RATINGS),
        "note": rng.choice(NOTES),
        "user": dict(user),
        "cigar": dict(rng.choice(cigars)),
        "venue": dict(rng.choice(venues)),
    }


def _drop_optional(
    rng: random.Random, rows: list[Json], people: list[Json], owners: list[int]
) -> None:
    """Remove keys from a fixed number of sessions each (and avatars from whole users)."""
    total = len(rows)
    for key, share in ABSENT_SHARES.items():
        for row in rng.sample(rows, round(total * share)):
            del row[key]
    for key in ("startedAt", "endedAt", "durationSeconds", "cigar"):
        for row in rng.sample(rows, int(total * FEW_SHARE)):
            del row[key]
    counts = [0] * len(people)
    for owner in owners:
        counts[owner] += 1
    # Whole users lose their avatar until close to the share of sessions, never past it.
    target, reached, avatarless = round(total * AVATARLESS_SHARE), 0, set()
    for index in rng.sample(range(len(people)), len(people)):
        if reached + counts[index] <= target:
            avatarless.add(people[index]["id"])
            reached += counts[index]
            del people[index]["avatarUrl"]
    for row in rows:
        if row["user"]["id"] in avatarless:
            row["user"].pop("avatarUrl", None)


def _venues_for(business: Business) -> tuple[Json, ...]:
    """A venue's sessions happen there; a brand's at any lounge in the catalogue."""
    if business.type == "venue":
        return ({"id": business.id, "name": business.name},)
    return tuple({"id": slug, "name": name} for slug, name in VENUES.items())


def _cigar(cigar_id: str, name: str, brand: str) -> Json:
    return {
        "id": cigar_id,
        "name": name,
        "brandName": brand,
        "imageUrl": f"{CDN}/cigars/{cigar_id}.jpg",
    }
