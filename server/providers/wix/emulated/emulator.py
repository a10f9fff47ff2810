"""An HTTP emulator of the slice of the Wix REST API the Wix provider uses.

Clients and tests get a real HTTP surface (auth headers, cursor paging, Wix filters, Wix
error bodies, rate limits) without a Wix account, mirroring what clients can observe: no
default values in JSON, no ``hasNext`` on the last page, opaque cursors that carry their
query, and Wix's error envelope. ``Faults`` makes the emulator slow, throttled or broken.
"""

from __future__ import annotations

import hmac
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request

from server.providers.emulated import mutations
from server.providers.emulated.emulation import Emulator, Endpoint, Faults, RateLimit
from server.providers.emulated.mutations import Intent, Stamps
from server.providers.wix.emulated import activity
from server.providers.wix.emulated.dataset import WixDataset, iso, session_participants
from server.providers.wix.emulated.draft import Draft, catalogue, new_ids
from server.providers.wix.emulated.mutations import KINDS, apply
from server.providers.wix.emulated.query import (
    Json,
    Predicate,
    application_error,
    bounded_int,
    compile_filter,
    cursor_page,
    sort_items,
    validation_error,
    wix_error,
)

Handler = Callable[[Request, Json], Json]


def _object_body(handler: Handler) -> Handler:
    """Wix answers a body that is not a JSON object with a validation error."""

    def checked(request: Request, body: Json) -> Json:
        if not isinstance(body, dict):
            raise validation_error("body", "request body must be a JSON object")
        return handler(request, body)

    return checked


CREATED_ORDER = [{"fieldName": "createdDate", "order": "ASC"}]
START_ORDER = [{"fieldName": "start.timestamp", "order": "ASC"}]
FIELDSETS = ("NO_PI", "ALL_PI")
MAX_SESSION_WINDOW = timedelta(days=366)


class WixEmulator(Emulator):
    """One emulated Wix site: its data and credentials, on the shared emulator kit."""

    def __init__(
        self,
        dataset: WixDataset,
        api_key: str,
        site_id: str,
        faults: Faults | None = None,
        rate_limit: RateLimit | None = None,
        now: Callable[[], datetime] = mutations.wall_clock,
    ) -> None:
        self.api_key, self.site_id = api_key, site_id
        self._use(dataset)
        self.stamps = Stamps(now)  # the moments changes happen at
        self._products = catalogue(dataset)
        self._new_id = new_ids()
        self._settled = False  # whether `stamps` knows the data's newest timestamp
        endpoints = [
            Endpoint(
                "POST",
                "/contacts/v4/contacts/query",
                "contacts.query",
                _object_body(self._query_contacts),
            ),
            Endpoint("GET", "/contacts/v4/contacts/{id}", "contacts.get", self._get_contact),
            Endpoint(
                "POST",
                "/bookings/v2/calendar/sessions/query",
                "sessions.query",
                _object_body(self._query_sessions),
            ),
            Endpoint(
                "GET", "/bookings/v2/calendar/sessions/{id}", "sessions.get", self._get_session
            ),
            Endpoint(
                "POST",
                "/_api/bookings-reader/v2/extended-bookings/query",
                "bookings.query",
                _object_body(self._query_bookings),
            ),
            Endpoint(
                "POST",
                "/email-marketing/v1/email-subscriptions/query",
                "subscriptions.query",
                _object_body(self._query_subscriptions),
            ),
            Endpoint(
                "POST", "/ecom/v1/orders/search", "orders.search", _object_body(self._search_orders)
            ),
        ]
        super().__init__(
            endpoints,
            authenticate=self._authenticate,
            error=wix_error,
            faults=faults,
            rate_limit=rate_limit,
        )

    def _use(self, dataset: WixDataset) -> None:
        """Serve `dataset`, with every index rebuilt from it."""
        self.dataset = dataset
        self._contacts = {contact["id"]: contact for contact in dataset.contacts}
        self._sessions = {session["id"]: session for session in dataset.sessions}
        self._participants = session_participants(dataset)

    # ------------------------------------------------------------ changes

    def mutate(self, change: Mapping[str, Any]) -> Json:
        """Apply one change (`server.providers.wix.emulated.mutations`); what was done. The data set
        passed in is left as it was; ``.dataset`` is the changed one."""
        parsed = mutations.parse_change(change, KINDS, wix_error, "Wix")
        if not self._settled:
            self.stamps.after([_moment(stamp) for stamp in _timestamps(self.dataset)])
            self._settled = True
        draft = Draft(self.dataset, self.stamps.next(), self._new_id)
        done = apply(draft, parsed, self._products)
        self._use(draft.dataset())
        return done.answer()

    def propose(self, intent: Intent, rng: random.Random) -> Json | None:
        """A plausible change for the activity simulator (`server.providers.emulated.activity`)."""
        return activity.propose(self.dataset, self._products, intent, rng)

    # ------------------------------------------------------------ the kit's hooks

    def _authenticate(self, request: Request) -> None:
        key = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(key, self.api_key.encode()):
            raise application_error(401, "UNAUTHENTICATED", "Invalid or missing API key")
        site = request.headers.get("wix-site-id", "").encode()
        if not hmac.compare_digest(site, self.site_id.encode()):
            raise application_error(403, "PERMISSION_DENIED", "API key has no access to site")

    def _query_contacts(self, request: Request, body: Json) -> Json:
        rows, metadata, _ = cursor_page(
            "contacts.query",
            "query",
            body.get("query") or {},
            (50, 1000),
            self.dataset.contacts,
            CREATED_ORDER,
        )
        return {"contacts": rows, "pagingMetadata": metadata}

    def _get_contact(self, request: Request, body: Json) -> Json:
        return {"contact": _lookup(self._contacts, request.path_params["id"], "Contact")}

    def _query_sessions(self, request: Request, body: Json) -> Json:
        query = body.get("query") or {}
        extras = {key: body.get(key) for key in ("fromDate", "toDate", "type")}
        extras["fieldsets"] = query.get("fieldsets") if isinstance(query, dict) else None
        rows, metadata, scope = cursor_page(
            "sessions.query",
            "query",
            query,
            (100, 1000),
            self.dataset.sessions,
            START_ORDER,
            extras,
            _session_window,
        )
        fieldsets = _fieldsets(scope.get("fieldsets"), "query.fieldsets")
        return {
            "sessions": [self._project(row, fieldsets) for row in rows],
            "pagingMetadata": metadata,
        }

    def _get_session(self, request: Request, body: Json) -> Json:
        session = _lookup(self._sessions, request.path_params["id"], "Session")
        fieldsets = _fieldsets(request.query_params.getlist("fieldsets") or None, "fieldsets")
        return {"session": self._project(session, fieldsets)}

    def _project(self, session: Json, fieldsets: list[str]) -> Json:
        """Participants are personal information, so only the ALL_PI fieldset returns them."""
        participants = self._participants.get(session["id"])
        if "ALL_PI" in fieldsets and participants:
            return {**session, "participants": participants}
        return session

    def _query_bookings(self, request: Request, body: Json) -> Json:
        rows, metadata, _ = cursor_page(
            "bookings.query",
            "query",
            body.get("query") or {},
            (50, 100),
            self.dataset.bookings,
            CREATED_ORDER,
        )
        return {"extendedBookings": [{"booking": row} for row in rows], "pagingMetadata": metadata}

    def _query_subscriptions(self, request: Request, body: Json) -> Json:
        """The one offset-paged endpoint; emails match case-insensitively as on Wix. The
        filter takes any field (`updatedDate` conditions among them) and `sort` orders as
        the cursor-paged endpoints do."""
        predicate = compile_filter(body.get("filter") or {}, "filter", frozenset({"email"}))
        if not isinstance(paging := body.get("paging") or {}, dict):
            raise validation_error("paging", "paging must be an object")
        limit = bounded_int(paging.get("limit"), 100, 1, 1000, "paging.limit")
        offset = bounded_int(paging.get("offset"), 0, 0, 2**31, "paging.offset")
        matches = [item for item in self.dataset.subscriptions if predicate(item)]
        rows = sort_items(matches, body.get("sort") or CREATED_ORDER)[offset : offset + limit]
        metadata = {"count": len(rows), "offset": offset, "total": len(matches)}
        return {"subscriptions": rows, "metadata": metadata}

    def _search_orders(self, request: Request, body: Json) -> Json:
        rows, metadata, _ = cursor_page(
            "orders.search",
            "search",
            body.get("search") or {},
            (50, 100),
            self.dataset.orders,
            CREATED_ORDER,
        )
        return {"orders": rows, "metadata": metadata}


def create_emulator(
    dataset: WixDataset,
    *,
    api_key: str,
    site_id: str,
    faults: Faults | None = None,
    now: Callable[[], datetime] = mutations.wall_clock,
) -> WixEmulator:
    """Build an emulator for one site; mount ``.app`` wherever the client should reach it.
    `now` is the wall clock changes take their timestamps from."""
    return WixEmulator(dataset, api_key, site_id, faults, now=now)


def _timestamps(dataset: WixDataset) -> list[str]:
    """Every creation and update time the site shows."""
    stamps = []
    for rows in (dataset.contacts, dataset.bookings, dataset.subscriptions, dataset.orders):
        for row in rows:
            stamps += [row[key] for key in ("createdDate", "updatedDate") if key in row]
    return stamps


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _lookup(index: dict[str, Json], item_id: str, kind: str) -> Json:
    if item_id not in index:
        raise application_error(404, "NOT_FOUND", f"{kind} {item_id} not found")
    return index[item_id]


def _fieldsets(raw: Any, where: str) -> list[str]:
    fieldsets = raw if raw is not None else ["NO_PI"]
    if not isinstance(fieldsets, list) or any(item not in FIELDSETS for item in fieldsets):
        raise validation_error(where, "fieldsets must be a list of NO_PI or ALL_PI")
    return fieldsets


def _parse_date(raw: Any, where: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(raw)) if raw is not None else None
    except ValueError as error:
        raise validation_error(where, "expected an ISO 8601 timestamp") from error
    return moment.replace(tzinfo=moment.tzinfo or UTC) if moment else None


def _session_window(scope: Json) -> Predicate:
    """Sessions starting in [fromDate, toDate) of the requested type; Wix caps the span."""
    lower = _parse_date(scope.get("fromDate"), "fromDate")
    upper = _parse_date(scope.get("toDate"), "toDate")
    if lower and upper and upper - lower > MAX_SESSION_WINDOW:
        raise validation_error("toDate", "fromDate and toDate may be at most 366 days apart")
    low, high, kind = iso(lower) if lower else "", iso(upper) if upper else "~", scope.get("type")
    return lambda session: (
        low <= session["start"]["timestamp"] < high and (kind in (None, session["type"]))
    )
