"""The last line of defence: an exception nothing else handled.

A dependency that did not answer (`ServiceUnavailable`: the store) is no defect: the
client gets a 503 with `Retry-After` and code SERVICE_UNAVAILABLE, and nothing more is
logged here (the outage is logged once, where it is seen). Anything else is logged once,
with its traceback, and the client gets a 500 with code INTERNAL_SERVER_ERROR and no
detail. Starlette's own handler re-raises the exception after answering, so uvicorn would
log it a second time; this middleware does not.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schema.errors import ErrorCode, ServiceUnavailable
from server.http.responses import error_response, service_unavailable

log = logging.getLogger(__name__)


class InternalErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ServiceUnavailable as error:
            if not started:
                await service_unavailable(error)(scope, receive, send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                response = error_response(
                    500, "Internal server error.", ErrorCode.INTERNAL_SERVER_ERROR
                )
                await response(scope, receive, send)
