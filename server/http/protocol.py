"""uvicorn's HTTP protocol with a deadline for a request's headers.

uvicorn closes a connection that stays idle between requests (`timeout_keep_alive`), but
a client that opens a connection and never finishes its headers holds it for ever: a few
hundred such clients starve the server. Here the same timeout also bounds the time from
opening a connection, or from the first byte of a request, to the end of its headers;
past it the client gets a 408 and the connection is closed. The request body is bounded
by the application (`BUSINESS_API_BODY_TIMEOUT`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class BoundedHttpProtocol(HttpToolsProtocol):
    _headers_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._headers_deadline is None:
            self._headers_deadline = self.loop.call_later(
                self.timeout_keep_alive, self._headers_timed_out
            )

    def _disarm(self) -> None:
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
            self._headers_deadline = None

    def _headers_timed_out(self) -> None:
        self._headers_deadline = None
        if not self.transport.is_closing():
            self.transport.write(_TIMED_OUT)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
