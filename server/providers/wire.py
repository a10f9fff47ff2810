"""One HTTP/1.1 connection to a provider: a request out, its answer in, parsed by httptools
within bounds that hold whatever the provider sends.

The body cap (`max_bytes`, from the settings) is the caller's; the rest of an answer is
bounded here, as httpcore/h11 and aiohttp bound it, so that no answer can make the process
grow or hold the event loop:

- the head (status line and fields, any interim answers before it included) at
  `MAX_HEAD` bytes, counted on the raw bytes fed: httptools buffers a field until its line
  ends, so a line that never ends is only bounded by counting what goes in;
- each field (a header or a trailer) at `MAX_FIELD` bytes, and the fields of one head or
  of the trailers at `MAX_FIELDS`, which also bounds the Python work one head costs;
- interim answers (1xx) at `MAX_INTERIM`; `101 Switching Protocols` is never an answer;
- everything else read for the answer (chunk framing, chunk extensions, trailers) at a
  head's worth twice plus `FRAMING_PER_PIECE` per body piece, never more than the body cap:
  an honest chunked answer needs a few bytes a chunk, and a chunk extension or a trailer
  section cannot be used to make the server read without limit.

Past a bound the answer is `Unacceptable` (a `NotHttp`, so the provider is unreachable for
this call), found at the read that crossed it: at most one read (256 KiB) past the bound.

Memory per answer is bounded by the caps: same-named fields are joined once the head is
complete (not once per repeat), and a body in many small pieces is copied into one buffer
after the first `MAX_PIECES` instead of kept as one `bytes` object per piece.

Time: the parser calls back once per chunk, so the event loop is held in proportion to the
bytes of one read. Reads go into a buffer of `READ_SIZE` bytes (asyncio's own reads are up
to 256 KiB): a read of the tiniest chunks holds the loop about a millisecond. The buffer is
the transport's, one for all its connections: the event loop (asyncio, uvloop, their TLS)
fills it and calls `buffer_updated` in the same callback, nothing else runs in between, and
the parser copies whatever it keeps.

An answer is complete at its last byte; anything after it (an unsolicited answer, the
start of one, garbage) stops the parse at once and closes the connection, so a kept
connection never holds bytes that the next call (possibly another business's) would take
for its answer, and a `Reply` once returned never changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import httptools

MAX_HEAD = 100 * 1024  # httpcore's bound on a head (h11's max_incomplete_event_size)
MAX_FIELD = 8 * 1024  # aiohttp's bound on one field (8190 bytes)
# Providers send 20 to 40 fields; a thousand leaves room for proxies and CDNs while the
# Python work of one head stays well under a millisecond.
MAX_FIELDS = 1000
MAX_INTERIM = 8  # 100 Continue, 103 Early Hints: one or two in practice
FRAMING_PER_PIECE = 32  # a chunk-size line with a short extension, and its CRLFs
MAX_PIECES = 64  # body pieces kept as they arrive; later ones are copied into one buffer
READ_SIZE = 64 * 1024  # the most bytes one read hands the parser


def read_buffer() -> memoryview:
    """A buffer for the connections of one transport, on one event loop."""
    return memoryview(bytearray(READ_SIZE))


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # looked up by lowercase name; never changed once returned
    body: bytes


class BodyTooLarge(Exception):
    """The answer is (or says it is) larger than the cap."""


class Disconnected(ConnectionError):
    """The provider closed the connection before its answer began."""


class CutOff(ConnectionError):
    """The provider closed the connection in the middle of its answer."""


class NotHttp(ConnectionError):
    """What came back is not an HTTP/1.1 answer."""


class Unacceptable(NotHttp):
    """An answer past this transport's bounds, or one it never takes (a protocol switch);
    `str()` says which, in a few words, for the operator."""


class ProxyFailed(ConnectionError):
    """The proxy between the server and the provider was not reached, or refused the
    tunnel; `str()` says which (the socket error, if any, is the cause)."""


class Compressed(Exception):
    """A compressed body, though an uncompressed one was asked for."""


class Stale(Exception):
    """A kept connection the provider had closed: the request was not answered, and goes
    again on a new connection."""


class _Beyond(Exception):
    """Bytes past the end of the answer: the parse stops there."""


_REFUSALS = (BodyTooLarge, Compressed, NotHttp, _Beyond)


class Connection(asyncio.BufferedProtocol):
    """One connection: one exchange at a time, its answer assembled by httptools, read into
    `buffer` (`read_buffer()`, shared by the connections of one transport)."""

    def __init__(self, buffer: memoryview) -> None:
        self._buffer = buffer
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[Reply] | None = None
        self._start(0)

    def _start(self, max_bytes: int) -> None:
        """Everything one exchange's answer counts, afresh."""
        self._max_bytes = max_bytes
        self._fed = 0  # bytes of this answer fed to the parser, head and framing included
        self._status = 0
        self._interim = 0
        self._fields = 0
        self._headers: dict[str, str] = {}
        self._repeats: dict[str, list[str]] | None = None
        self._body: list[bytes] = []
        self._spill: bytearray | None = None
        self._size = 0  # body bytes
        self._pieces = 0
        self._head_done = False  # the final (not interim) head is complete
        self._sized = False  # the answer says its length, or is chunked
        self._done = False  # the answer is complete: any byte more is beyond it
        self._keep_alive = False  # the answer leaves the connection open for the next

    async def exchange(self, request: bytes, max_bytes: int) -> Reply:
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._start(max_bytes)
        self.transport.write(request)
        return await self._answer

    @property
    def reusable(self) -> bool:
        return self._keep_alive and not self.closed

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: BaseException) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        self.close()

    # asyncio.BufferedProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self._read(self._buffer[:nbytes])

    def _read(self, data: memoryview) -> None:
        answer = self._answer
        if answer is None or answer.done():
            self.close()  # bytes nobody asked for: the connection is not in a known state
            return
        room = MAX_HEAD - self._fed
        if self._head_done or len(data) <= room:
            self._feed(data)
        else:  # the head must end within `room` bytes: feed no more until it has
            self._feed(data[:room])
            if self._done:
                self.close()  # complete within the room, with bytes beyond it
            if self.closed:
                return
            if not self._head_done:
                self._fail(Unacceptable(f"the answer's head was over {MAX_HEAD // 1024} KiB"))
                return
            self._feed(data[room:])
        if self._head_done and not self._done and not self.closed:
            framing = self._fed - self._size
            if framing > 2 * MAX_HEAD + min(FRAMING_PER_PIECE * self._pieces, self._max_bytes):
                self._fail(Unacceptable("the answer's chunk framing or trailers were too large"))

    def _feed(self, data: memoryview) -> None:
        self._fed += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            refusal = error.__context__  # what a callback below raised
            self._fail(refusal if isinstance(refusal, _REFUSALS) else NotHttp("not an answer"))
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self._fail(NotHttp("not an HTTP answer"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        answer = self._answer
        if answer is None or answer.done():
            return
        if not self._fed:
            answer.set_exception(Stale() if self.reused else Disconnected())
        elif self._head_done and not self._sized:
            self._complete()  # a body without a length ends with the connection
        else:
            answer.set_exception(CutOff())

    # httptools callbacks: a refusal is raised, which stops the parse where it is

    def on_message_begin(self) -> None:
        if self._done:
            raise _Beyond

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > MAX_FIELD:
            raise Unacceptable(f"a header field was over {MAX_FIELD // 1024} KiB")
        self._fields += 1
        if self._fields > MAX_FIELDS:
            raise Unacceptable(f"more than {MAX_FIELDS} header fields")
        if self._head_done:
            return  # a trailer: counted, never kept
        key = name.decode("latin-1").lower()
        headers = self._headers
        if key not in headers:
            headers[key] = value.decode("latin-1")
        else:  # joined once the head is complete: a join per repeat is quadratic
            if self._repeats is None:
                self._repeats = {}
            self._repeats.setdefault(key, []).append(value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            return  # an interim answer: `on_message_complete` lets it go
        self._status = status
        self._head_done = True
        self._fields = 0  # the trailers' own count
        headers = self._headers
        if self._repeats is not None:
            for key, more in self._repeats.items():
                headers[key] = ", ".join((headers[key], *more))
        declared = headers.get("content-length", "")
        self._sized = bool(declared) or "chunked" in headers.get("transfer-encoding", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise BodyTooLarge()
        encoding = headers.get("content-encoding")
        if encoding is not None and encoding.lower() != "identity":
            raise Compressed(encoding)

    def on_body(self, body: bytes) -> None:
        size = self._size + len(body)
        if size > self._max_bytes:
            raise BodyTooLarge()
        self._size = size
        self._pieces += 1
        if self._pieces <= MAX_PIECES:
            self._body.append(body)
        elif self._spill is None:
            self._spill = bytearray(body)
        else:
            self._spill += body

    def on_message_complete(self) -> None:
        if not self._head_done:  # an interim answer (1xx) ended: the answer is still to come
            if self._parser.get_status_code() == 101:
                raise Unacceptable("the provider switched protocols (101)")
            self._interim += 1
            if self._interim > MAX_INTERIM:
                raise Unacceptable(f"more than {MAX_INTERIM} interim answers")
            self._headers, self._repeats, self._fields = {}, None, 0
            return
        self._keep_alive = self._parser.should_keep_alive()  # known only until the next
        self._complete()

    def _complete(self) -> None:
        self._done = True
        answer = self._answer
        if answer is not None and not answer.done():
            spill = self._spill
            body = b"".join(self._body if spill is None else (*self._body, spill))
            answer.set_result(Reply(self._status, self._headers, body))
