"""A provider whose every byte the test writes: a raw-socket server for hostile answers.

The emulators (`tests/upstream.py`) answer through uvicorn, which only ever sends valid
HTTP. To see what a client does with an answer no HTTP server would give (headers that
never end, a 1xx before the answer, a body longer than it said, bytes nobody asked for, a
reset in the middle), the server side must be plain sockets, each connection following a
script of steps written by the test: send these bytes, trickle them, stream a generated
flood, sleep, close, reset, hang, read the request.

It runs in threads of its own (one accepting, one per connection, blocking sockets) and
never on the test's event loop, so a test can measure how long the client under test
stalls its own loop. Every blocking operation wakes at least every `POLL` seconds to look
at the stop flag, and every wait is bounded, so stopping always ends every thread.

What happened is recorded per connection: the raw requests read, the bytes the kernel
accepted (`sent`), whether the client hung up, anything it sent that no step read.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import TracebackType
from typing import Protocol

import pytest
import trustme

POLL = 0.05  # how often a blocked socket call looks at the stop flag
SLICE = 64 * 1024  # the most bytes handed to one send()
HANDSHAKE_SECONDS = 5.0  # a TLS handshake not done by then is abandoned
STOP_SECONDS = 5.0  # how long stopping waits for all the threads, in all
MAX_REQUEST_HEAD = 1024 * 1024  # a request head larger than this is not a client's


class Stopped(Exception):
    """The provider is stopping: the script ends where it is."""


class HungUp(Exception):
    """The client closed or reset the connection."""


@dataclass
class ConnectionRecord:
    """What happened on one accepted connection, filled in by its thread."""

    index: int
    requests: list[bytes] = field(default_factory=list)  # raw: head and body
    sent: int = 0  # bytes the kernel accepted, whether or not the client read them
    hung_up: bool = False  # the client closed or reset its end before the script did
    unread: bytes = b""  # what the client sent that no step read (while hanging, idle)
    error: str | None = None  # a TLS handshake that failed, a socket error
    finished: threading.Event = field(default_factory=threading.Event)


class Peer:
    """One connection as a script's steps see it: blocking calls that count what they
    send, notice the client hanging up, and give up when the provider stops."""

    def __init__(
        self, sock: socket.socket, record: ConnectionRecord, stopping: threading.Event
    ) -> None:
        self.sock = sock
        self.record = record
        self.closed = False
        self._stopping = stopping
        self._buffer = b""  # received, not yet read as a request
        sock.settimeout(POLL)

    def _check(self) -> None:
        if self._stopping.is_set():
            raise Stopped

    def send(self, data: bytes) -> None:
        """All of `data`, retrying (with the same bytes, as TLS wants) while the client
        is not reading."""
        view = memoryview(data)
        while view:
            self._check()
            try:
                count = self.sock.send(view[:SLICE])
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as error:
                raise HungUp from error
            self.record.sent += count
            view = view[count:]

    def receive(self) -> bytes:
        """Some bytes from the client; HungUp when it closed its end."""
        while True:
            self._check()
            try:
                data = self.sock.recv(SLICE)
            except TimeoutError:
                continue
            except (ConnectionResetError, ssl.SSLError) as error:
                raise HungUp from error
            if not data:
                raise HungUp
            return data

    def read_request(self) -> bytes:
        """One request (head and a Content-Length body), recorded; the bytes after it
        wait for the next read."""
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_REQUEST_HEAD:
                raise HungUp("a request head without an end")
            self._buffer += self.receive()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            rest += self.receive()
        request = head + b"\r\n\r\n" + rest[:length]
        self._buffer = rest[length:]
        self.record.requests.append(request)
        return request

    def wait_for_hang_up(self) -> None:
        """Answers nothing more, keeping what the client sends, until it hangs up."""
        self.record.unread += self._buffer
        self._buffer = b""
        while True:
            self.record.unread += self.receive()

    def sleep(self, seconds: float) -> None:
        if self._stopping.wait(seconds):
            raise Stopped

    def close(self, *, abort: bool = False) -> None:
        """Closes the connection: with a FIN, or (`abort`) with a RST (SO_LINGER 0)."""
        if self.closed:
            return
        self.closed = True
        if abort:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.sock.close()


# The steps of a script. Each does one thing to the connection; a script that ends
# without closing waits for the client to hang up (a kept-alive connection, idle).


class Step(Protocol):
    """One thing a script does to its connection (blocking, in the connection's thread)."""

    def run(self, peer: Peer) -> None: ...


@dataclass(frozen=True)
class ReadRequest:
    """Read one request (head and Content-Length body) before going on."""

    def run(self, peer: Peer) -> None:
        peer.read_request()


@dataclass(frozen=True)
class Send:
    """Send these bytes at once."""

    data: bytes

    def run(self, peer: Peer) -> None:
        peer.send(self.data)


@dataclass(frozen=True)
class Trickle:
    """Send these bytes `size` at a time, one piece every `every` seconds."""

    data: bytes
    size: int
    every: float

    def run(self, peer: Peer) -> None:
        for start in range(0, len(self.data), self.size):
            if start:
                peer.sleep(self.every)
            peer.send(self.data[start : start + self.size])


@dataclass(frozen=True)
class Stream:
    """Send what `pieces()` generates, lazily, piece by piece: a flood is never built in
    memory. `most` bounds an endless flood (to keep the test machine safe: a client that
    reads that much without objecting would read any amount); the next step follows."""

    pieces: Callable[[], Iterable[bytes]]
    most: int | None = None

    def run(self, peer: Peer) -> None:
        left = self.most
        for piece in self.pieces():
            if left is not None:
                piece = piece[:left]
                left -= len(piece)
            peer.send(piece)
            if left == 0:
                return


@dataclass(frozen=True)
class Sleep:
    """Do nothing for `seconds` (the client sees a provider thinking, or stalled)."""

    seconds: float

    def run(self, peer: Peer) -> None:
        peer.sleep(self.seconds)


@dataclass(frozen=True)
class Close:
    """Close the connection (FIN); the script ends."""

    def run(self, peer: Peer) -> None:
        peer.close()


@dataclass(frozen=True)
class Reset:
    """Close the connection abortively (RST, SO_LINGER 0); the script ends."""

    def run(self, peer: Peer) -> None:
        peer.close(abort=True)


@dataclass(frozen=True)
class Hang:
    """Never answer: wait until the client hangs up (or the provider stops)."""

    def run(self, peer: Peer) -> None:
        peer.wait_for_hang_up()


@dataclass(frozen=True)
class Repeat:
    """Run `steps` again and again, until the client hangs up (or the provider stops): a
    kept-alive connection answering every request the same way."""

    steps: Sequence[Step]

    def run(self, peer: Peer) -> None:
        while not peer.closed:
            for step in self.steps:
                step.run(peer)


Script = Sequence[Step]


def generated(
    line: Callable[[int], bytes], count: int | None = None
) -> Callable[[], Iterator[bytes]]:
    """`line(0)`, `line(1)`, ... (`count` of them, or for ever), in batches of about
    `SLICE` bytes: for `Stream`, so 100,000 header lines cost a few dozen sends."""

    def batches() -> Iterator[bytes]:
        numbers = itertools.count() if count is None else iter(range(count))
        batch: list[bytes] = []
        size = 0
        for number in numbers:
            piece = line(number)
            batch.append(piece)
            size += len(piece)
            if size >= SLICE:
                yield b"".join(batch)
                batch, size = [], 0
        if batch:
            yield b"".join(batch)

    return batches


def repeated(piece: bytes, count: int | None = None) -> Callable[[], Iterator[bytes]]:
    """`piece` `count` times (or for ever), in batches built by one multiplication each
    (no Python loop per piece: the provider's thread barely holds the GIL)."""
    per_batch = max(1, SLICE // max(1, len(piece)))
    batch = piece * per_batch

    def batches() -> Iterator[bytes]:
        if count is None:
            while True:
                yield batch
        whole, rest = divmod(count, per_batch)
        for _ in range(whole):
            yield batch
        if rest:
            yield piece * rest

    return batches


# TLS: a private CA, whose trust the tests hand to the client under test.


@cache
def _authority(name: str) -> trustme.CA:
    """A CA per name, made once per session (making keys is the slow part)."""
    return trustme.CA(organization_name=f"raw provider {name}")


@cache
def _certificate(name: str) -> trustme.LeafCert:
    return _authority(name).issue_cert("127.0.0.1", "localhost")


@dataclass(frozen=True)
class Tls:
    """The provider's server context, and the client context the test should verify
    with: it trusts the test CA only (which may not be the one that signed `server`)."""

    server: ssl.SSLContext
    client: ssl.SSLContext

    @staticmethod
    def _server(name: str) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        _certificate(name).configure_cert(context)
        return context

    @staticmethod
    def client_context() -> ssl.SSLContext:
        """Trusts the test CA, and nothing else (not the system's store)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        _authority("trusted").configure_trust(context)
        return context

    @classmethod
    def trusted(cls) -> Tls:
        """A certificate for 127.0.0.1 and localhost from the CA the client trusts."""
        return cls(cls._server("trusted"), cls.client_context())

    @classmethod
    def untrusted(cls) -> Tls:
        """A certificate for the right names, from a CA the client does not trust."""
        return cls(cls._server("untrusted"), cls.client_context())


class RawProvider:
    """A server on 127.0.0.1 whose N-th connection follows `scripts[N]` (the last script
    for any connection after the last one), over TLS when given `tls`.

    Use it as a context manager, or `start()` and `stop()`."""

    def __init__(self, *scripts: Script, tls: Tls | None = None) -> None:
        if not scripts:
            raise ValueError("a provider needs at least one script")
        self._scripts = scripts
        self.tls = tls
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._records: list[ConnectionRecord] = []
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(POLL)
        self.port: int = self._listener.getsockname()[1]
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    @property
    def thread_prefix(self) -> str:
        """How this provider's threads' names begin."""
        return f"raw-provider-{self.port}-"

    @property
    def client_context(self) -> ssl.SSLContext | None:
        """The SSL context a client should verify this provider with (None: plain HTTP)."""
        return self.tls.client if self.tls else None

    @property
    def connections(self) -> list[ConnectionRecord]:
        with self._lock:
            return list(self._records)

    @property
    def requests(self) -> list[bytes]:
        """Every request read, in the order of the connections."""
        return [request for record in self.connections for request in record.requests]

    @property
    def sent(self) -> int:
        return sum(record.sent for record in self.connections)

    def start(self) -> RawProvider:
        self._spawn(self._accept, f"{self.thread_prefix}accept")
        return self

    def wait_done(self, timeout: float) -> bool:
        """Whether every connection's script ended (the client hung up on the idle ones)
        within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for record in self.connections:
            if not record.finished.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def stop(self) -> None:
        """Ends every thread and closes every socket; raises if a thread outlived
        `STOP_SECONDS` (it would otherwise linger into other tests)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        deadline = time.monotonic() + STOP_SECONDS
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
            alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            raise RuntimeError(f"raw provider threads still running: {alive}")

    def __enter__(self) -> RawProvider:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        for index in itertools.count():
            sock = None
            while sock is None:
                if self._stopping.is_set():
                    return
                try:
                    sock, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:  # the listener closed: stopping
                    return
            record = ConnectionRecord(index)
            with self._lock:
                self._records.append(record)
                self._sockets.append(sock)
            script = self._scripts[min(index, len(self._scripts) - 1)]
            self._spawn(self._serve, f"{self.thread_prefix}{index}", sock, record, script)

    def _serve(self, sock: socket.socket, record: ConnectionRecord, script: Script) -> None:
        peer: Peer | None = None
        try:
            peer = Peer(self._secure(sock), record, self._stopping)
            for step in script:
                step.run(peer)
                if peer.closed:
                    break
            else:
                peer.wait_for_hang_up()  # an answered, kept-alive connection: idle
        except HungUp:
            record.hung_up = True
        except Stopped:
            pass
        except (OSError, ssl.SSLError) as error:
            record.error = f"{type(error).__name__}: {error}"
        finally:
            if peer is not None:
                peer.close()
            with contextlib.suppress(OSError):
                sock.close()
            record.finished.set()

    def _secure(self, sock: socket.socket) -> socket.socket:
        """The accepted socket, over TLS when the provider has it (the handshake done,
        within `HANDSHAKE_SECONDS`)."""
        if self.tls is None:
            return sock
        wrapped = self.tls.server.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._lock:
            self._sockets.append(wrapped)
        wrapped.settimeout(POLL)
        deadline = time.monotonic() + HANDSHAKE_SECONDS
        while True:
            if self._stopping.is_set():
                raise Stopped
            try:
                wrapped.do_handshake()
                return wrapped
            except TimeoutError:  # the handshake's state is kept: try again
                if time.monotonic() > deadline:
                    raise


class RawProviders:
    """The `raw_provider` fixture: starts providers on demand, stops them all after the
    test."""

    def __init__(self) -> None:
        self._started: list[RawProvider] = []

    def __call__(self, *scripts: Script, tls: Tls | None = None) -> RawProvider:
        provider = RawProvider(*scripts, tls=tls).start()
        self._started.append(provider)
        return provider

    def stop_all(self) -> None:
        errors = []
        for provider in self._started:
            try:
                provider.stop()
            except RuntimeError as error:
                errors.append(str(error))
        if errors:
            raise RuntimeError("; ".join(errors))


@pytest.fixture
def raw_provider() -> Iterator[RawProviders]:
    """`raw_provider(script, ..., tls=None)` starts a raw provider; all stop at teardown."""
    providers = RawProviders()
    try:
        yield providers
    finally:
        providers.stop_all()
