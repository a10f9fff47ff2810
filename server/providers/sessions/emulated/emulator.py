"""An HTTP emulator of the slice of the Sessions (sessions.us) Public API the Sessions
provider crawls.

Its root is the host and every path starts with ``/api``. It checks the ``x-api-key``
header (a key belongs to one workspace, so no path names an account), lists 20 items a
page with ``?page=N`` as a bare JSON array (or ``{"data": [...]}``), enforces the
documented 10 requests a minute per key with ``X-RateLimit-*`` headers (which can be left
off, so a client can be tested pacing itself from the documented limit alone) and answers
every failure as ``{"statusCode": <status>, "message": ...}``. ``Faults`` makes it slow,
throttled or broken; ``add_session``, ``add_participant``, ``add_booking`` and
``cancel_booking`` change what it serves from then on, for tests of incremental crawls, and
``mutate`` (``POST /__mutate``) takes the changes every emulator takes.
"""

from __future__ import annotations

import hmac
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from server.providers.emulated import mutations
from server.providers.emulated.emulation import Emulator, EmulatorError, Endpoint, Faults, RateLimit
from server.providers.emulated.mutations import Intent, Stamps
from server.providers.sessions.emulated import activity
from server.providers.sessions.emulated.dataset import (
    Json,
    Person,
    Row,
    SessionsDataset,
    iso,
    parse_timestamp,
)
from server.providers.sessions.emulated.mutations import KINDS, Draft, apply

Envelope = Literal["data"]
DEFAULT_RATE_LIMIT = (10, 60.0)  # 10 requests a minute per key (documented)
PAGE_SIZE = 20
RATE_PREFIX = "X-RateLimit"
THROTTLED = "ThrottlerException: Too Many Requests"
REFUSED = "sessions.refused"  # set in the request's scope when the rate limit refuses it


def sessions_error(status: int, message: str) -> EmulatorError:
    """Sessions' (NestJS) error body; a 429 always says what its throttler says."""
    return EmulatorError(
        status, {"statusCode": status, "message": THROTTLED if status == 429 else message}
    )


def bad_request(message: str) -> EmulatorError:
    return sessions_error(400, message)


def not_found(message: str) -> EmulatorError:
    return sessions_error(404, message)


def _api_key(request: Request) -> str:
    return request.headers.get("x-api-key", "")


@dataclass
class _Window(RateLimit):
    """The kit's fixed window, which marks the requests it refuses and can keep its
    ``X-RateLimit-*`` headers to itself (``Retry-After`` stays on a 429)."""

    announce: bool = True

    def take(self, request: Request, now: float) -> tuple[bool, dict[str, str]]:
        allowed, headers = super().take(request, now)
        if not allowed:
            request.scope[REFUSED] = True
        if not self.announce:
            headers = {k: v for k, v in headers.items() if not k.startswith(f"{self.prefix}-")}
        return allowed, headers

    def full(self, request: Request, now: float) -> bool:
        """Whether the window of the request's key is already used up at `now`."""
        started, used = self._windows.get(self.per(request), (now, 0))
        return now - started < self.window_seconds and used >= self.limit


class SessionsEmulator(Emulator):
    """One emulated Sessions workspace: its data and API key, on the kit."""

    def __init__(
        self,
        dataset: SessionsDataset,
        *,
        api_key: str,
        faults: Faults | None = None,
        rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
        rate_limit_headers: bool = True,
        envelope: Envelope | None = None,
        clock: Callable[[], float] | None = None,
        now: Callable[[], datetime] = mutations.wall_clock,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        if envelope not in (None, "data"):
            raise ValueError(f"Unknown envelope {envelope!r}; expected None or 'data'")
        self.dataset, self.api_key, self.envelope = dataset, api_key, envelope
        window = None
        if rate_limit is not None:
            limit, seconds = rate_limit
            if limit < 1 or seconds <= 0:
                raise ValueError("rate_limit needs at least 1 request per a positive window")
            window = _Window(
                limit, seconds, prefix=RATE_PREFIX, per=_api_key, announce=rate_limit_headers
            )
        self._window = window
        self._now = clock or time.monotonic
        self.stamps = Stamps(now)  # the moments changes happen at
        endpoints = [
            Endpoint("GET", "/api/sessions", "sessions.list", self._list_sessions),
            Endpoint("GET", "/api/sessions/{sessionId}", "sessions.get", self._get_session),
            Endpoint(
                "GET",
                "/api/sessions/{sessionId}/participants",
                "participants.list",
                self._participants,
            ),
            Endpoint("GET", "/api/bookings", "bookings.list", self._list_bookings),
            Endpoint("GET", "/api/events", "events.list", self._list_events),
        ]
        super().__init__(
            endpoints,
            authenticate=self._authenticate,
            error=sessions_error,
            faults=faults,
            rate_limit=window,
            clock=self._now,
        )
        self.app.add_middleware(self._arrivals)

    # ------------------------------------------------------------ changes

    def add_session(
        self,
        name: str | None = None,
        participants: Iterable[Person | Row] | None = None,
        *,
        start_at: datetime | None = None,
        minutes: int = 45,
    ) -> Json:
        """A new session, created after every other, with its owner and `participants`
        (``(email, first name, last name[, as guest])``) or three known people."""
        self.dataset, session = self.dataset.with_session(
            name, participants, start_at=start_at, minutes=minutes
        )
        return session

    def add_participant(
        self,
        session_id: str,
        email: str,
        first_name: str,
        last_name: str | None,
        as_guest: bool = True,
    ) -> Json:
        """One more participant of `session_id`, listed last (a guest unless `as_guest`
        is False)."""
        self.dataset, entry = self.dataset.with_participant(
            session_id, email, first_name, last_name, as_guest
        )
        return entry

    def add_booking(self, session_id: str, email: str, name: str, cancelled: bool = False) -> Json:
        """A booking of `session_id` by `name` <`email`>, created after every other."""
        self.dataset, booking = self.dataset.with_booking(session_id, email, name, cancelled)
        return booking

    def cancel_booking(self, booking_id: str) -> Json:
        """Booking `booking_id`, cancelled where it stands in the list."""
        self.dataset, booking = self.dataset.with_booking_cancelled(booking_id)
        return booking

    def mutate(self, change: Mapping[str, Any]) -> Json:
        """Apply one change (`server.providers.sessions.emulated.mutations`); what was done."""
        parsed = mutations.parse_change(change, KINDS, sessions_error, "Sessions")
        rows = (*self.dataset.sessions, *self.dataset.bookings)
        newest = max((parse_timestamp(row["createdAt"]) for row in rows), default=None)
        draft = Draft(self.dataset, iso(self.stamps.next(newest)))
        done = apply(draft, parsed)
        self.dataset = draft.dataset()
        return done.answer()

    def propose(self, intent: Intent, rng: random.Random) -> Json | None:
        """A plausible change for the activity simulator (`server.providers.emulated.activity`)."""
        return activity.propose(self.dataset, intent, rng)

    # ------------------------------------------------------------ the kit's hooks

    def _authenticate(self, request: Request) -> None:
        sent = _api_key(request)
        if not (sent and hmac.compare_digest(sent.encode(), self.api_key.encode())):
            raise sessions_error(401, "Unauthorized")

    def _arrivals(self, app: ASGIApp) -> ASGIApp:
        """Counts in `into_full_window` every request that arrives while its key's window
        is full, whatever answers it (an injected fault, an unknown path) and not only the
        429s the kit counts itself."""

        async def arrive(scope: Scope, receive: Receive, send: Send) -> None:
            window = self._window
            own = scope["type"] == "http" and scope["path"].endswith("/__mutate")
            if scope["type"] != "http" or window is None or own:
                await app(scope, receive, send)
                return
            full = window.full(Request(scope), self._now())
            try:
                await app(scope, receive, send)
            finally:
                if full and not scope.get(REFUSED):
                    self.into_full_window += 1

        return arrive

    # ------------------------------------------------------------ endpoints

    def _list_sessions(self, request: Request, body: Any) -> Any:
        return self._page(request, self.dataset.sessions)

    def _get_session(self, request: Request, body: Any) -> Any:
        return self._session(request)

    def _participants(self, request: Request, body: Any) -> Any:
        session = self._session(request)
        return self._wrap(list(self.dataset.participants[session["id"]]))

    def _list_bookings(self, request: Request, body: Any) -> Any:
        return self._page(request, self.dataset.bookings)

    def _list_events(self, request: Request, body: Any) -> Any:
        return self._page(request, self.dataset.events)

    def _session(self, request: Request) -> Json:
        session_id = request.path_params["sessionId"]
        session = self.dataset.session(session_id)
        if session is None:
            raise not_found(f"Session {session_id} not found")
        return session

    def _page(self, request: Request, items: Sequence[Json]) -> Any:
        raw = request.query_params.get("page", "1")
        if not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            raise bad_request("page must be an integer greater than or equal to 1")
        start = (int(raw) - 1) * PAGE_SIZE
        return self._wrap(list(items[start : start + PAGE_SIZE]))

    def _wrap(self, rows: list[Json]) -> Any:
        return rows if self.envelope is None else {self.envelope: rows}


def create_emulator(
    dataset: SessionsDataset,
    *,
    api_key: str,
    faults: Faults | None = None,
    rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
    rate_limit_headers: bool = True,
    envelope: Envelope | None = None,
    clock: Callable[[], float] | None = None,
    now: Callable[[], datetime] = mutations.wall_clock,
) -> SessionsEmulator:
    """Build an emulator for one workspace; mount ``.app`` where the host should be.

    ``rate_limit`` is ``(requests, window_seconds)`` per key or ``None`` for none;
    ``rate_limit_headers=False`` leaves the ``X-RateLimit-*`` headers off every answer;
    ``envelope="data"`` wraps every list in ``{"data": [...]}``; ``clock`` (monotonic
    seconds) drives the rate limit's windows; ``now`` is the wall clock changes take their
    timestamps from.
    """
    return SessionsEmulator(
        dataset,
        api_key=api_key,
        faults=faults,
        rate_limit=rate_limit,
        rate_limit_headers=rate_limit_headers,
        envelope=envelope,
        clock=clock,
        now=now,
    )
