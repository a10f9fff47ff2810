"""An HTTP emulator of Boxpressd's "Get Business Sessions" for one API key.

Its root is the API's base URL (``https://api.boxpressd.com``). It serves
``GET /{businessType}s/{businessId}/sessions`` for the key's own venue or brand, pages with
``limit`` and ``offset`` (``meta.count`` is the size of the page, so clients page until it
falls short of ``limit``), filters ``createdAt`` with inclusive ``from``/``to`` and the
hidden featured flag with ``featured``, and answers every failure as
``{"error": {"code", "message"}}``. The checks run in the order a client can rely on: the
key (401), then whether the business exists (404), then whether the key owns it (403),
then the parameters (400). Boxpressd documents no rate limit, so there is none unless one
is asked for. ``Faults`` makes it slow, throttled or broken; ``add_sessions`` lets
incremental crawls find new sessions, and ``mutate`` (``POST /__mutate``) takes the changes
every emulator takes.
"""

from __future__ import annotations

import hmac
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any

from starlette.requests import Request

from server.providers.boxpressd.emulated import activity
from server.providers.boxpressd.emulated.dataset import (
    BUSINESS_TYPES,
    BoxpressdDataset,
    Business,
    Json,
    iso,
    known_businesses,
    parse_timestamp,
)
from server.providers.boxpressd.emulated.mutations import KINDS, Draft, apply
from server.providers.emulated import mutations
from server.providers.emulated.emulation import Emulator, EmulatorError, Endpoint, Faults, RateLimit
from server.providers.emulated.mutations import Intent, Stamps

SESSIONS_PATH = "/{businessType}s/{businessId}/sessions"
LIMIT = ("limit", 20, 1, 100)
OFFSET = ("offset", 0, 0, 10**15)
CODES = {429: "rate_limited", 500: "internal"}  # the rest are the reason phrase in snake case
FEATURED = {"true": True, "false": False}
PARAMETERS = ("limit", "offset", "from", "to", "featured")


def boxpressd_error(status: int, message: str) -> EmulatorError:
    """Boxpressd's error envelope: a lower snake case code and a message."""
    code = CODES.get(status)
    if code is None:
        try:
            code = re.sub(r"[^a-z]+", "_", HTTPStatus(status).phrase.lower()).strip("_")
        except ValueError:
            code = "error"
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return EmulatorError(status, {"error": {"code": code, "message": message}}, headers)


def bad_request(message: str) -> EmulatorError:
    return boxpressd_error(400, message)


# ---------------------------------------------------------------- parameters


@dataclass(frozen=True)
class SessionQuery:
    """Validated query parameters of the sessions list."""

    limit: int = LIMIT[1]
    offset: int = OFFSET[1]
    created_from: datetime | None = None
    created_to: datetime | None = None
    featured: bool | None = None

    def keeps(self, created: datetime, featured: bool) -> bool:
        if self.created_from is not None and created < self.created_from:
            return False
        if self.created_to is not None and created > self.created_to:
            return False
        return self.featured is None or featured == self.featured


def parse_query(request: Request) -> SessionQuery:
    """Malformed values (out of range, not a number, not a date) and repeated parameters
    are 400s; parameters the endpoint does not know are ignored."""
    params = request.query_params
    for name in PARAMETERS:
        if len(params.getlist(name)) > 1:
            raise bad_request(f"{name} may be given only once")
    limit, offset = (_integer(params.get(spec[0]), spec) for spec in (LIMIT, OFFSET))
    featured = params.get("featured")
    if featured is not None and featured not in FEATURED:
        raise bad_request("featured must be true or false")
    return SessionQuery(
        limit=limit,
        offset=offset,
        created_from=_moment(params.get("from"), "from"),
        created_to=_moment(params.get("to"), "to"),
        featured=None if featured is None else FEATURED[featured],
    )


def _integer(raw: str | None, spec: tuple[str, int, int, int]) -> int:
    name, default, low, high = spec
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 16 and low <= int(raw) <= high):
        raise bad_request(f"{name} must be an integer between {low} and {high}")
    return int(raw)


def _moment(raw: str | None, name: str) -> datetime | None:
    """An ISO 8601 date (its start of day, UTC) or date-time (UTC when it has no offset)."""
    if raw is None:
        return None
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise bad_request(f"{name} must be an ISO 8601 date or date-time") from None


# ---------------------------------------------------------------- the emulator


class BoxpressdEmulator(Emulator):
    """One API key's view of Boxpressd: its business's sessions, on the kit."""

    def __init__(
        self,
        dataset: BoxpressdDataset,
        *,
        api_key: str,
        business_type: str | None = None,
        business_id: str | None = None,
        faults: Faults | None = None,
        rate_limit: tuple[int, float] | None = None,
        clock: Callable[[], float] | None = None,
        other_businesses: Iterable[tuple[str, str]] | None = None,
        now: Callable[[], datetime] = mutations.wall_clock,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        dataset = dataset.rehomed(
            business_type or dataset.business.type, business_id or dataset.business.id
        )
        own = dataset.business
        others = known_businesses() if other_businesses is None else frozenset(other_businesses)
        if bad := sorted(kind for kind, _ in others if kind not in BUSINESS_TYPES):
            raise ValueError(f"Unknown business type {bad[0]!r}")
        self.api_key = api_key
        self.business: Business = own
        self.known = others | {(own.type, own.id)}
        self._use(dataset)
        self.stamps = Stamps(now)  # the moments changes happen at
        self._changes = 0
        limit = None
        if rate_limit is not None:
            requests, window = rate_limit
            if requests < 1 or window <= 0:
                raise ValueError("rate_limit needs at least 1 request per a positive window")
            limit = RateLimit(requests, window)
        super().__init__(
            [Endpoint("GET", SESSIONS_PATH, "sessions.list", self._list_sessions)],
            authenticate=self._authenticate,
            error=boxpressd_error,
            faults=faults,
            rate_limit=limit,
            clock=clock or time.monotonic,
        )

    def add_sessions(self, count: int, users: Sequence[str] | None = None) -> list[Json]:
        """Add `count` sessions created after every existing one (a minute apart), by the
        given existing users in turn or each by a new user; returns them, oldest first.
        The data set passed in is left as it was; ``.dataset`` is the grown one."""
        grown, added = self.dataset.extended(count, users)
        self._use(grown)
        return added

    def mutate(self, change: Mapping[str, Any]) -> Json:
        """Apply one change (`server.providers.boxpressd.emulated.mutations`); what was done.
        The data set passed in is left as it was; ``.dataset`` is the changed one."""
        parsed = mutations.parse_change(change, KINDS, boxpressd_error, "Boxpressd")
        newest = max((parse_timestamp(s["createdAt"]) for s in self.dataset.sessions), default=None)
        at = self.stamps.next(newest)
        self._changes += 1
        draft = Draft(self.dataset, at, iso(at), self._changes)
        done = apply(draft, parsed)
        self._use(draft.dataset())
        return done.answer()

    def propose(self, intent: Intent, rng: random.Random) -> Json | None:
        """A plausible change for the activity simulator (`server.providers.emulated.activity`)."""
        return activity.propose(self.dataset, intent, rng)

    def _use(self, dataset: BoxpressdDataset) -> None:
        self.dataset = dataset
        self._rows = [
            (parse_timestamp(session["createdAt"]), dataset.is_featured(session), session)
            for session in dataset.sessions
        ]

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization")
        if header is None:
            raise boxpressd_error(401, "The Authorization header is missing")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise boxpressd_error(401, "Authorization must be 'Bearer <API key>'")
        if not hmac.compare_digest(key.strip().encode(), self.api_key.encode()):
            raise boxpressd_error(401, "The API key is invalid")

    def _check_business(self, request: Request) -> None:
        kind, slug = request.path_params["businessType"], request.path_params["businessId"]
        if (kind, slug) not in self.known:
            raise boxpressd_error(404, f"No {kind} {slug!r}")
        if (kind, slug) != (self.business.type, self.business.id):
            raise boxpressd_error(403, f"The API key does not belong to {kind} {slug!r}")

    def _list_sessions(self, request: Request, body: Json) -> Json:
        self._check_business(request)
        query = parse_query(request)
        kept = [row for created, featured, row in self._rows if query.keeps(created, featured)]
        page = kept[query.offset : query.offset + query.limit]
        return {
            "data": page,
            "meta": {"count": len(page), "limit": query.limit, "offset": query.offset},
        }


def create_emulator(
    dataset: BoxpressdDataset,
    *,
    api_key: str,
    business_type: str | None = None,
    business_id: str | None = None,
    faults: Faults | None = None,
    rate_limit: tuple[int, float] | None = None,
    clock: Callable[[], float] | None = None,
    other_businesses: Iterable[tuple[str, str]] | None = None,
    now: Callable[[], datetime] = mutations.wall_clock,
) -> BoxpressdEmulator:
    """An emulator where `api_key` belongs to the data set's business; mount ``.app`` where
    the base URL should be.

    `business_type` and `business_id` default to the data set's; naming another business
    serves the same sessions as that business's (`BoxpressdDataset.rehomed`), so a data set
    made without an account works for any. `other_businesses` are the (type, id) pairs that
    exist but belong to someone else (403 rather than 404); by default the catalogue's
    venues and brands.
    `rate_limit` is ``(requests, window_seconds)``, off by default; `clock` drives it.
    `now` is the wall clock changes take their timestamps from.
    """
    return BoxpressdEmulator(
        dataset,
        api_key=api_key,
        business_type=business_type,
        business_id=business_id,
        faults=faults,
        rate_limit=rate_limit,
        clock=clock,
        other_businesses=other_businesses,
        now=now,
    )
