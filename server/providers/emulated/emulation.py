"""The kit every provider emulator is built on.

An emulator is a real HTTP app (Starlette) speaking one provider's contract from
PROVIDERS.md over a seeded data set. What all of them share lives here: counting the
requests each endpoint serves, fault injection (latency, an error status with
`Retry-After`, a request that never gets an answer, malformed JSON), the provider's rate
limit with its headers, and answering every failure in the provider's own error
envelope. A provider's emulator supplies its endpoints, how it authenticates, and how its
errors look.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Json = Any


# Requests an emulator remembers the times of, for `round_trips` (a test makes hundreds);
# the older half goes past this, so that an emulator serving a soak keeps bounded memory.
SERVED_KEPT = 10_000


class EmulatorError(Exception):
    """A failure answered with the provider's error body."""

    def __init__(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}

    def response(self) -> Response:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


# How a provider words an error: (status, message) -> its error envelope.
ErrorFactory = Callable[[int, str], EmulatorError]


@dataclass
class Faults:
    """Failure modes flipped at run time to exercise clients' retries and error paths.

    With `fail_next` > 0 only that many requests get `status`, then it is cleared. With
    `endpoints` named, the faults touch only those endpoints.
    """

    latency_seconds: float = 0.0
    status: int | None = None
    retry_after: int = 1
    malformed_json: bool = False
    hang: bool = False  # accept the request and never answer: the client's deadline fires
    fail_next: int = 0
    endpoints: frozenset[str] = frozenset()

    def touch(self, endpoint: str) -> bool:
        return not self.endpoints or endpoint in self.endpoints


@dataclass
class RateLimit:
    """A fixed window of `limit` requests per `window_seconds` for each key `per` gives
    (a token, a token and a category), announced in `<prefix>-Limit/-Remaining/-Reset`
    headers, with 429 and `Retry-After` past it."""

    limit: int
    window_seconds: float
    prefix: str = "RateLimit"
    per: Callable[[Request], str] = lambda request: ""
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def take(self, request: Request, now: float) -> tuple[bool, dict[str, str]]:
        key = self.per(request)
        started, used = self._windows.get(key, (now, 0))
        if now - started >= self.window_seconds:
            started, used = now, 0
        allowed = used < self.limit
        if allowed:
            used += 1
        self._windows[key] = (started, used)
        reset = max(int(started + self.window_seconds - now + 0.999), 1)
        headers = {
            f"{self.prefix}-Limit": str(self.limit),
            f"{self.prefix}-Remaining": str(self.limit - used),
            f"{self.prefix}-Reset": str(reset),
        }
        if not allowed:
            headers["Retry-After"] = str(reset)
        return allowed, headers


@dataclass(frozen=True)
class Endpoint:
    """`handler(request, body)` answers with the JSON to send; `body` is the decoded JSON
    body of a POST (or None)."""

    method: str
    path: str
    name: str
    handler: Callable[[Request, Json], Json]


class Emulator:
    """One emulated provider account: endpoints, faults, rate limit and request counters."""

    def __init__(
        self,
        endpoints: list[Endpoint],
        *,
        authenticate: Callable[[Request], None],
        error: ErrorFactory,
        faults: Faults | None = None,
        rate_limit: RateLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.faults = faults or Faults()
        self.rate_limit = rate_limit
        self.requests: collections.Counter[str] = collections.Counter()
        # When each request was served (monotonic start and end): what ran concurrently.
        # The latest `SERVED_KEPT` only: the demo's emulators serve for days.
        self.served: list[tuple[str, float, float]] = []
        self.into_full_window = 0  # requests that arrived while the window was already full
        self._authenticate = authenticate
        self._error = error
        self._clock = clock
        routes = [self._route(endpoint) for endpoint in endpoints]
        routes.append(Route("/__mutate", self._serve_mutation, methods=["POST"], name="__mutate"))
        handlers = {404: self._routing_error, 405: self._routing_error}
        self.app = Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def reset_counts(self) -> None:
        self.requests.clear()
        self.served.clear()
        self.into_full_window = 0

    @property
    def round_trips(self) -> int:
        """The longest chain of requests each served after the previous one ended: how
        many times a client waited for this provider in turn (the rest ran alongside)."""
        chain, free_at = 0, -math.inf
        for _, start, end in sorted(self.served, key=lambda served: served[2]):
            if start >= free_at:
                chain, free_at = chain + 1, end
        return chain

    def mutate(self, change: Json) -> Json:
        """Apply one change to the emulated data (`server.providers.emulated.mutations`) and say
        what was done; an emulator whose data cannot change answers 404."""
        raise self._error(404, "This emulator's data does not change")

    async def _serve_mutation(self, request: Request) -> Response:
        """`POST /__mutate`: an emulator's own endpoint, not the provider's, so it is
        authenticated like the provider's endpoints but neither counted, throttled nor
        faulted."""
        try:
            self._authenticate(request)
            return JSONResponse(self.mutate(await _json_body(request, self._error)))
        except EmulatorError as error:
            return error.response()

    def _route(self, endpoint: Endpoint) -> Route:
        async def serve(request: Request) -> Response:
            self.requests[endpoint.name] += 1
            started = time.monotonic()
            try:
                return await answer(request)
            finally:
                self.served.append((endpoint.name, started, time.monotonic()))
                if len(self.served) > SERVED_KEPT:
                    del self.served[: len(self.served) - SERVED_KEPT // 2]

        async def answer(request: Request) -> Response:
            headers: dict[str, str] = {}
            try:
                if self.faults.touch(endpoint.name):
                    await self._misbehave()
                self._authenticate(request)
                headers = self._take_budget(request)
                body = await _json_body(request, self._error) if endpoint.method == "POST" else None
                payload = endpoint.handler(request, body)
            except EmulatorError as error:
                response = error.response()
                response.headers.update({**headers, **error.headers})
                return response
            if self.faults.malformed_json and self.faults.touch(endpoint.name):
                return Response(b'{"unexpected": <html>', media_type="application/json")
            return JSONResponse(payload, headers=headers)

        return Route(endpoint.path, serve, methods=[endpoint.method], name=endpoint.name)

    async def _misbehave(self) -> None:
        faults = self.faults
        if faults.latency_seconds > 0:
            await asyncio.sleep(faults.latency_seconds)
        if faults.hang:
            await asyncio.Event().wait()
        status = faults.status
        if status is None:
            return
        if faults.fail_next > 0:
            faults.fail_next -= 1
            faults.status = status if faults.fail_next else None
        error = self._error(status, "Too many requests" if status == 429 else "Internal error")
        if status == 429:
            error.headers["Retry-After"] = str(faults.retry_after)
        raise error

    def _take_budget(self, request: Request) -> dict[str, str]:
        if self.rate_limit is None:
            return {}
        allowed, headers = self.rate_limit.take(request, self._clock())
        if not allowed:
            self.into_full_window += 1
            error = self._error(429, "Too many requests")
            error.headers.update(headers)
            raise error
        return headers

    async def _routing_error(self, request: Request, exc: Exception) -> Response:
        """Unknown paths and wrong methods still answer in the provider's error envelope."""
        status = getattr(exc, "status_code", 500)
        word = "Not found" if status == 404 else "Method not allowed"
        return self._error(status, f"{request.method} {request.url.path}: {word}").response()


async def _json_body(request: Request, error: ErrorFactory) -> Json:
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise error(400, "The request body is not valid JSON") from None
