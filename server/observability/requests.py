"""The facts of one request, gathered as it runs and handed to each observer (the log
line, the metrics) once it has answered.

`Observed` is the outermost middleware: it names the request (`X-Request-Id`: a sane
incoming id is kept, so a proxy's id follows the request through; otherwise a new one),
puts the facts where the handlers below it can add to them (`current()`), and counts the
status and the bytes that leave.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.observability.tracing import request_span

# Letters, digits and a few separators, as proxies and tracing systems write ids; anything
# else (or anything longer) could forge log lines or bloat them, so it is replaced.
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{8,128}")
_HEADER = b"x-request-id"


@dataclass(slots=True)
class RequestFacts:
    request_id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    status: int = 0
    bytes_out: int = 0
    duration_seconds: float = 0.0
    key_id: str | None = None  # the public part of the key
    business: str | None = None  # the business's handle
    operation_name: str | None = None
    operation_type: str | None = None
    document_hash: str | None = None
    document_cached: bool | None = None
    cost_requested: int | None = None
    cost_actual: int | None = None
    rate_limited: str | None = None  # the refusing bucket's scope: key, business, address
    upstream_calls: Counter[str] = field(default_factory=Counter)  # by provider
    error_codes: list[str] = field(default_factory=list)


_CURRENT: ContextVar[RequestFacts | None] = ContextVar("request_facts", default=None)


def current() -> RequestFacts | None:
    """The facts of the request being answered (None outside one: start-up, the sync)."""
    return _CURRENT.get()


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == _HEADER:
            if _SANE_ID.fullmatch(value):
                return value.decode()
            break
    return secrets.token_hex(8)


Observer = Callable[[RequestFacts], None]


class Observed:
    def __init__(self, app: ASGIApp, observers: Sequence[Observer] = ()) -> None:
        self.app = app
        self.observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        facts = RequestFacts(_request_id(scope), scope["method"], scope["path"])
        header = (_HEADER, facts.request_id.encode())

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                facts.status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            elif message["type"] == "http.response.body":
                facts.bytes_out += len(message.get("body", b""))
            await send(message)

        token = _CURRENT.set(facts)
        bound = structlog.contextvars.bind_contextvars(request_id=facts.request_id)
        try:
            with request_span(facts):
                await self.app(scope, receive, sending)
        finally:
            facts.duration_seconds = time.perf_counter() - facts.started
            structlog.contextvars.reset_contextvars(**bound)
            _CURRENT.reset(token)
            for observe in self.observers:
                observe(facts)
