"""An HTTP emulator of the slice of the Sessionboard Public API the Sessionboard provider uses.

Its root is the API's base URL and every path starts with ``/v1``. It checks the
``x-access-token`` header and the token's scopes, pages every list with ``page`` and
``pageSize`` in the ``data`` or ``results`` envelope (legacy endpoints use ``results``;
either can be switched per endpoint), applies search bodies' filters and sort, enforces a
rate limit of 100 requests per 15 minutes per token and category with ``RateLimit-*``
headers, and answers every failure as ``{"error": <reason phrase>, "message": ...}``.
``Faults`` makes it slow, throttled or broken.
"""

from __future__ import annotations

import hmac
import random
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request

from server.providers.emulated import mutations
from server.providers.emulated.emulation import Emulator, Endpoint, Faults, RateLimit
from server.providers.emulated.mutations import Intent, Stamps
from server.providers.sessionboard.emulated import activity
from server.providers.sessionboard.emulated.dataset import Json, SessionboardDataset, iso
from server.providers.sessionboard.emulated.dataset import parse_timestamp as _parse_wire
from server.providers.sessionboard.emulated.mutations import KINDS, Draft, apply
from server.providers.sessionboard.emulated.wire import (
    ENVELOPES,
    Envelope,
    not_found,
    page_of,
    paging,
    parse_search,
    sessionboard_error,
)

SCOPES = ("read:events", "read:sessions", "read:contacts")
# Which rate-limit category (and so which read:<category> scope) each endpoint belongs to.
CATEGORIES = {
    "events.list": "events",
    "sessions.search": "sessions",
    "sessions.get": "sessions",
    "contacts.search": "contacts",
    "contact.sessions": "sessions",
}
DEFAULT_ENVELOPES: dict[str, Envelope] = {
    "events.list": "results",
    "sessions.search": "data",
    "contacts.search": "data",
    "contact.sessions": "results",
}
DEFAULT_RATE_LIMIT = (100, 900.0)  # 100 requests per 15 minutes


def _path_id(request: Request, name: str, kind: str) -> int:
    raw = request.path_params[name]
    if not (raw.isascii() and raw.isdigit()):
        raise not_found(f"{kind} {raw} not found")
    return int(raw)


def _endpoint_name(request: Request) -> str:
    """The kit names each route after its endpoint; the router records the matched route."""
    return getattr(request.scope.get("route"), "name", "") or ""


def _by_id(item: Json) -> Any:
    return item["id"]


def _by_creation(item: Json) -> Any:
    return (_parse_wire(item["created_at"]), item["id"])


# ---------------------------------------------------------------- the emulator


class SessionboardEmulator(Emulator):
    """One emulated Sessionboard organisation: its data, token and scopes, on the kit."""

    def __init__(
        self,
        dataset: SessionboardDataset,
        *,
        token: str,
        organization_id: int | str,
        faults: Faults | None = None,
        rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
        envelopes: Mapping[str, Envelope] | None = None,
        scopes: Iterable[str] | None = None,
        now: Callable[[], datetime] = mutations.wall_clock,
    ) -> None:
        if not token:
            raise ValueError("token must not be empty")
        self.dataset, self.token = dataset, token
        self.organization_id = str(organization_id)
        self.scopes = frozenset(SCOPES if scopes is None else scopes)
        if unknown := sorted(self.scopes - set(SCOPES)):
            raise ValueError(f"Unknown scope {unknown[0]!r}; expected some of {list(SCOPES)}")
        self.envelopes = {**DEFAULT_ENVELOPES, **(envelopes or {})}
        for name, envelope in self.envelopes.items():
            if name not in DEFAULT_ENVELOPES or envelope not in ENVELOPES:
                raise ValueError(f"Bad envelope {envelope!r} for {name!r}")
        self._use(dataset)
        self.stamps = Stamps(now)  # the moments changes happen at
        self._settled = False  # whether `stamps` knows the data's newest timestamp
        endpoints = [
            Endpoint("GET", "/v1/events", "events.list", self._list_events),
            Endpoint(
                "POST", "/v1/event/{eventId}/sessions", "sessions.search", self._search_sessions
            ),
            Endpoint(
                "GET", "/v1/event/{eventId}/sessions/{sessionId}", "sessions.get", self._get_session
            ),
            Endpoint(
                "POST", "/v1/organization/{orgId}/contacts", "contacts.search", self._contacts
            ),
            Endpoint(
                "GET",
                "/v1/event/{eventId}/contacts/{contactId}/sessions",
                "contact.sessions",
                self._contact_sessions,
            ),
        ]
        limit = None
        if rate_limit is not None:
            requests, window = rate_limit
            if requests < 1 or window <= 0:
                raise ValueError("rate_limit needs at least 1 request per a positive window")
            limit = RateLimit(requests, window, prefix="RateLimit", per=self._rate_key)
        super().__init__(
            endpoints,
            authenticate=self._authenticate,
            error=sessionboard_error,
            faults=faults,
            rate_limit=limit,
        )

    def _use(self, dataset: SessionboardDataset) -> None:
        """Serve `dataset`, with every index rebuilt from it."""
        self.dataset = dataset
        self._events = {event["id"]: event for event in dataset.events}
        self._sessions = {
            event_id: {session["id"]: session for session in sessions}
            for event_id, sessions in dataset.sessions_by_event.items()
        }
        self._contact_ids = {contact["id"] for contact in dataset.contacts}

    # ------------------------------------------------------------ changes

    def mutate(self, change: Mapping[str, Any]) -> Json:
        """Apply one change (`server.providers.sessionboard.emulated.mutations`); what was done. The
        data set passed in is left as it was; ``.dataset`` is the changed one."""
        parsed = mutations.parse_change(change, KINDS, sessionboard_error, "Sessionboard")
        if not self._settled:
            self.stamps.after([_parse_wire(stamp) for stamp in _timestamps(self.dataset)])
            self._settled = True
        draft = Draft(self.dataset, iso(self.stamps.next()))
        done = apply(draft, parsed)
        self._use(draft.dataset())
        return done.answer()

    def propose(self, intent: Intent, rng: random.Random) -> Json | None:
        """A plausible change for the activity simulator (`server.providers.emulated.activity`)."""
        return activity.propose(self.dataset, intent, rng)

    # ------------------------------------------------------------ the kit's hooks

    def _authenticate(self, request: Request) -> None:
        sent = request.headers.get("x-access-token")
        if sent is None:
            raise sessionboard_error(401, "The x-access-token header is missing")
        if not hmac.compare_digest(sent.encode(), self.token.encode()):
            raise sessionboard_error(401, "The access token is invalid")
        category = CATEGORIES.get(_endpoint_name(request))
        if category is None:  # the emulator's own endpoint (changes) needs the token only
            return
        scope = f"read:{category}"
        if scope not in self.scopes:
            raise sessionboard_error(403, f"The token lacks the {scope} scope")

    def _rate_key(self, request: Request) -> str:
        """Budgets are per token and category; only authenticated requests get here."""
        category = CATEGORIES.get(_endpoint_name(request), "")
        return f"{request.headers.get('x-access-token', '')}\n{category}"

    def _event(self, request: Request) -> int:
        event_id = _path_id(request, "eventId", "Event")
        if event_id not in self._events:
            raise not_found(f"Event {event_id} not found")
        return event_id

    def _list_events(self, request: Request, body: Json) -> Json:
        page, size = paging(request)
        return page_of(self.dataset.events, page, size, self.envelopes["events.list"])

    def _search_sessions(self, request: Request, body: Json) -> Json:
        event_id = self._event(request)
        page, size = paging(request)
        search = parse_search(body, statuses=True)
        rows = search.apply(self.dataset.sessions_by_event[event_id], _by_id)
        return page_of(rows, page, size, self.envelopes["sessions.search"])

    def _get_session(self, request: Request, body: Json) -> Json:
        event_id = self._event(request)
        session_id = _path_id(request, "sessionId", "Session")
        session = self._sessions[event_id].get(session_id)
        if session is None:
            raise not_found(f"Session {session_id} not found in event {event_id}")
        return session

    def _contacts(self, request: Request, body: Json) -> Json:
        org = request.path_params["orgId"]
        if org != self.organization_id:
            raise not_found(f"Organization {org} not found")
        page, size = paging(request)
        search = parse_search(body, statuses=False)
        rows = search.apply(self.dataset.contacts, _by_creation)
        return page_of(rows, page, size, self.envelopes["contacts.search"])

    def _contact_sessions(self, request: Request, body: Json) -> Json:
        event_id = self._event(request)
        contact_id = _path_id(request, "contactId", "Contact")
        if contact_id not in self._contact_ids:
            raise not_found(f"Contact {contact_id} not found")
        page, size = paging(request)
        rows = [s for e, s in self.dataset.sessions_of(contact_id) if e == event_id]
        return page_of(rows, page, size, self.envelopes["contact.sessions"])


def create_emulator(
    dataset: SessionboardDataset,
    *,
    token: str,
    organization_id: int | str,
    faults: Faults | None = None,
    rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
    envelopes: Mapping[str, Envelope] | None = None,
    envelope: Envelope | None = None,
    scopes: Iterable[str] | None = None,
    now: Callable[[], datetime] = mutations.wall_clock,
) -> SessionboardEmulator:
    """Build an emulator for one organisation; mount ``.app`` where the base URL should be.

    ``envelope`` sets the list envelope of every endpoint, ``envelopes`` then overrides it
    per endpoint name; ``rate_limit`` is ``(requests, window_seconds)`` or ``None`` for none;
    ``now`` is the wall clock changes take their timestamps from.
    """
    chosen: dict[str, Envelope] = (
        {} if envelope is None else dict.fromkeys(DEFAULT_ENVELOPES, envelope)
    )
    return SessionboardEmulator(
        dataset,
        token=token,
        organization_id=organization_id,
        faults=faults,
        rate_limit=rate_limit,
        envelopes={**chosen, **(envelopes or {})},
        scopes=scopes,
        now=now,
    )


def _timestamps(dataset: SessionboardDataset) -> list[str]:
    """Every creation and update time the organisation shows."""
    sessions = [row for rows in dataset.sessions_by_event.values() for row in rows]
    rows = (*dataset.events, *dataset.contacts, *sessions)
    return [row[key] for row in rows for key in ("created_at", "updated_at")]
