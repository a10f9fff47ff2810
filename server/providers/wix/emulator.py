"""An HTTP emulator of the slice of the Wix REST API the Wix provider uses.

Clients and tests get a real HTTP surface (auth headers, cursor paging, Wix filters, Wix
error bodies, rate limits) without a Wix account, mirroring what clients can observe: no
default values in JSON, no ``hasNext`` on the last page, opaque cursors that carry their
query, and Wix's error envelope. ``Faults`` makes the emulator slow, throttled or broken.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.providers.wix.dataset import WixDataset, iso, session_participants
from server.providers.wix.query import (
    ApiError,
    Json,
    Predicate,
    application_error,
    bounded_int,
    compile_filter,
    cursor_page,
    sort_items,
    validation_error,
)

Handler = Callable[[Request, Json], Json]
CREATED_ORDER = [{"fieldName": "createdDate", "order": "ASC"}]
START_ORDER = [{"fieldName": "start.timestamp", "order": "ASC"}]
FIELDSETS = ("NO_PI", "ALL_PI")
MAX_SESSION_WINDOW = timedelta(days=366)


@dataclass
class Faults:
    """Failure modes flipped at run time to exercise client retries and error paths.

    With ``fail_next`` > 0 only that many requests get ``status``, then it is cleared.
    """

    latency_seconds: float = 0.0
    status: int | None = None
    retry_after: int = 1
    malformed_json: bool = False
    fail_next: int = 0


class WixEmulator:
    """One emulated Wix site: its data, credentials, fault switches and request counters."""

    def __init__(self, dataset: WixDataset, api_key: str, site_id: str, faults: Faults) -> None:
        self.dataset, self.api_key, self.site_id, self.faults = dataset, api_key, site_id, faults
        self.requests: collections.Counter[str] = collections.Counter()
        self._contacts = {contact["id"]: contact for contact in dataset.contacts}
        self._sessions = {session["id"]: session for session in dataset.sessions}
        self._participants = session_participants(dataset)
        routes = [
            self._route(*spec)
            for spec in (
                ("/contacts/v4/contacts/query", "POST", "contacts.query", self._query_contacts),
                ("/contacts/v4/contacts/{id}", "GET", "contacts.get", self._get_contact),
                (
                    "/bookings/v2/calendar/sessions/query",
                    "POST",
                    "sessions.query",
                    self._query_sessions,
                ),
                ("/bookings/v2/calendar/sessions/{id}", "GET", "sessions.get", self._get_session),
                (
                    "/_api/bookings-reader/v2/extended-bookings/query",
                    "POST",
                    "bookings.query",
                    self._query_bookings,
                ),
                (
                    "/email-marketing/v1/email-subscriptions/query",
                    "POST",
                    "subscriptions.query",
                    self._query_subscriptions,
                ),
                ("/ecom/v1/orders/search", "POST", "orders.search", self._search_orders),
            )
        ]
        handlers = {404: _routing_error, 405: _routing_error}
        self.app = Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def reset_counts(self) -> None:
        self.requests.clear()

    def _route(self, path: str, method: str, name: str, handler: Handler) -> Route:
        """Wrap a handler with counting, faults, auth, body parsing and error envelopes."""

        async def endpoint(request: Request) -> Response:
            self.requests[name] += 1
            if self.faults.latency_seconds > 0:
                await asyncio.sleep(self.faults.latency_seconds)
            try:
                self._inject_failure()
                self._authenticate(request)
                payload = handler(request, await _read_body(request) if method == "POST" else {})
            except ApiError as error:
                return error.response()
            if self.faults.malformed_json:
                return Response(b'{"unexpected": <html>', media_type="application/json")
            return JSONResponse(payload)

        return Route(path, endpoint, methods=[method], name=name)

    def _inject_failure(self) -> None:
        faults, status = self.faults, self.faults.status
        if status is None:
            return
        if faults.fail_next > 0:
            faults.fail_next -= 1
            faults.status = status if faults.fail_next else None
        if status == 429:
            raise application_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Too many requests",
                {"Retry-After": str(faults.retry_after)},
            )
        raise application_error(status, "INTERNAL", "Internal error")

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
        """The one offset-paged endpoint; emails match case-insensitively as on Wix."""
        predicate = compile_filter(body.get("filter") or {}, "filter", frozenset({"email"}))
        if not isinstance(paging := body.get("paging") or {}, dict):
            raise validation_error("paging", "paging must be an object")
        limit = bounded_int(paging.get("limit"), 100, 1, 1000, "paging.limit")
        offset = bounded_int(paging.get("offset"), 0, 0, 2**31, "paging.offset")
        matches = [item for item in self.dataset.subscriptions if predicate(item)]
        rows = sort_items(matches, CREATED_ORDER)[offset : offset + limit]
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
    dataset: WixDataset, *, api_key: str, site_id: str, faults: Faults | None = None
) -> WixEmulator:
    """Build an emulator for one site; mount ``.app`` wherever the client should reach it."""
    return WixEmulator(dataset, api_key, site_id, faults or Faults())


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


async def _read_body(request: Request) -> Json:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError as error:
        raise validation_error("body", "request body must be a JSON object") from error
    return body


async def _routing_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods still answer in Wix's error envelope."""
    status = getattr(exc, "status_code", 500)
    code = "NOT_FOUND" if status == 404 else "METHOD_NOT_ALLOWED"
    message = f"{request.method} {request.url.path}: {code}"
    return application_error(status, code, message, getattr(exc, "headers", None)).response()
