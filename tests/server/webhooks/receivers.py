"""A webhook receiver for the tests, on the session's socket: it records every request
and answers as scripted, one cue per request (then 204s), and checks signatures with
the `standardwebhooks` library, as an integrator would."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from standardwebhooks import Webhook
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


@dataclass(frozen=True)
class Cue:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer: the sender's timeout fires


OK = Cue()
FAILS = Cue(500)


def redirect(to: str) -> Cue:
    return Cue(301, {"location": to})


def throttled(seconds: int) -> Cue:
    return Cue(429, {"retry-after": str(seconds)})


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> dict[str, Any]:
        """The payload, once its signature and timestamp verify with `secret`."""
        payload: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return payload


class Receiver:
    def __init__(self, cues: Sequence[Cue] = ()) -> None:
        self.cues = list(cues)
        self.received: list[Received] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        self.received.append(Received(request.url.path, dict(request.headers), body))
        cue = self.cues.pop(0) if self.cues else OK
        if cue.hang:
            await asyncio.Event().wait()
        await Response(status_code=cue.status, headers=cue.headers)(scope, receive, send)

    def unique(self, secret: str) -> list[dict[str, Any]]:
        """Each delivery once (by `webhook-id`, as a receiver deduplicates), verified, in
        the order first received."""
        seen: dict[str, dict[str, Any]] = {}
        for received in self.received:
            seen.setdefault(received.webhook_id, received.verified(secret))
        return list(seen.values())

    def bodies(self) -> list[dict[str, Any]]:
        return [orjson.loads(r.body) for r in self.received]
