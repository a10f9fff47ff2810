"""Providers of indexed connections that misbehave, served on the session's socket: lists
without end, the same page again and again, answers whose headers make no sense, and a
provider that throttles without end, and one that holds its answers until a test lets it
go.

Each answers at most `most` requests, then only 503s: a crawl without bounds fails its
test on the counts instead of running for ever.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STAMP = "2026-01-05T10:00:00.000Z"


def with_headers(app: ASGIApp, headers: dict[str, str]) -> ASGIApp:
    """`app`, with `headers` set on every answer (replacing its own of those names)."""
    names = {name.lower().encode() for name in headers}
    extra = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def rewritten(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await app(scope, receive, sending)

    return rewritten


class Gate:
    """Holds a provider's answers from request number `after` on, until `open` (from any
    thread) or `seconds` pass; `opened_first` says whether the test opened it in time."""

    def __init__(self, after: int, seconds: float = 8.0) -> None:
        self.after = after
        self.seconds = seconds
        self._open = threading.Event()
        self.opened_first: bool | None = None

    def open(self) -> None:
        self._open.set()

    async def wait(self, number: int) -> None:
        if number < self.after or self.opened_first is not None:
            return
        deadline = time.monotonic() + self.seconds
        while not self._open.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        self.opened_first = self._open.is_set()


class Hostile:
    """The request counting, the cap and the gate every hostile provider shares."""

    def __init__(self, most: int = 400, gate: Gate | None = None) -> None:
        self.most = most
        self.gate = gate
        self.requests: list[str] = []  # path?query of each request, in order
        self.after_gate = 0  # requests answered after the gate opened
        self.app = Starlette(routes=self.routes())

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def route(self, path: str, answer: Callable[[Request], Any]) -> Route:
        async def serve(request: Request) -> Response:
            path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
            self.requests.append(f"{path}?{request.url.query}")
            number = len(self.requests)
            if number > self.most:
                return JSONResponse({"message": "gave up"}, status_code=503)
            if self.gate is not None:
                await self.gate.wait(number)
                self.after_gate += bool(self.gate.opened_first)
            answered = answer(request)
            return answered if isinstance(answered, Response) else JSONResponse(answered)

        return Route(path, serve)

    def count(self, fragment: str) -> int:
        return sum(fragment in request for request in self.requests)


class EndlessSessions(Hostile):
    """Sessions whose sessions list always has a full page more, of new sessions, or of
    the same 20 (`same`); each session has one participant, and there are no bookings."""

    def __init__(self, *, same: bool = False, most: int = 400, gate: Gate | None = None) -> None:
        self.same = same
        super().__init__(most, gate)

    def routes(self) -> list[Route]:
        return [
            self.route("/api/sessions", self._sessions),
            self.route("/api/sessions/{session}/participants", self._participants),
            self.route("/api/bookings", lambda request: []),
        ]

    def _sessions(self, request: Request) -> list[dict[str, Any]]:
        page = 1 if self.same else int(request.query_params.get("page", "1"))
        return [
            {"id": f"s-{page}-{i}", "name": f"Session {page}.{i}", "createdAt": STAMP}
            for i in range(20)
        ]

    def _participants(self, request: Request) -> list[dict[str, Any]]:
        session = request.path_params["session"]
        person = {"email": f"{session}@example.com", "firstName": "P", "lastName": session}
        return [{"isOwner": False, "user": person, "guest": None}]


class EndlessBoxpressd(Hostile):
    """Boxpressd whose every page is full (`meta.count` 100), of new sessions, or of the
    same 100 (`same`), each by a user of its own."""

    def __init__(self, *, same: bool = False, most: int = 400, gate: Gate | None = None) -> None:
        self.same = same
        super().__init__(most, gate)

    def routes(self) -> list[Route]:
        return [self.route("/{kind}s/{business}/sessions", self._page)]

    def _page(self, request: Request) -> dict[str, Any]:
        offset = 0 if self.same else int(request.query_params.get("offset", "0"))
        sessions = [
            {"id": f"ses_{n}", "createdAt": STAMP, "user": {"id": f"usr_{n}", "displayName": "U"}}
            for n in range(offset, offset + 100)
        ]
        return {"data": sessions, "meta": {"count": 100, "limit": 100, "offset": offset}}


class ThrottlingBoxpressd(Hostile):
    """Boxpressd answering every request 429 with `Retry-After: 0`."""

    def routes(self) -> list[Route]:
        throttled = {"error": {"code": "rate_limited", "message": "Too many requests"}}
        return [
            self.route(
                "/{kind}s/{business}/sessions",
                lambda request: JSONResponse(
                    throttled, status_code=429, headers={"Retry-After": "0"}
                ),
            )
        ]
