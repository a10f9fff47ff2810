"""A small HTTP proxy for the tests: CONNECT tunnels and absolute-form requests, counted.

It runs in threads of its own (one accepting, one per client connection, blocking sockets
woken every `POLL` seconds to look at the stop flag), like `tests/raw_provider.py`, so the
client under test and its event loop are the only async code in the test. What it was
asked is recorded: the targets of the tunnels it opened, the request lines it forwarded,
the `Proxy-Authorization` each request carried, and how many it refused for their
credentials. With `user` (and `password`) it answers 407 to any request without them.

A CONNECT opens a tunnel to the target and relays bytes both ways until either end closes;
an absolute-form request (`GET http://host:port/path HTTP/1.1`) is sent on to the host it
names, as it came, and the connection is then relayed as a tunnel too: the client under
test only ever reuses a connection through a proxy for the same target.
"""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import threading
import time
from types import TracebackType
from urllib.parse import quote, urlsplit

POLL = 0.05  # how often a waiting thread looks at the stop flag
STOP_SECONDS = 5.0  # how long stopping waits for the threads; also a send's longest wait
MAX_HEAD = 64 * 1024


class ConnectProxy:
    """An HTTP proxy on 127.0.0.1; `url` is what HTTPS_PROXY or HTTP_PROXY would say."""

    def __init__(self, *, user: str | None = None, password: str = "") -> None:
        self.user = user
        self.password = password
        self.tunnels: list[str] = []  # host:port of every tunnel opened
        self.forwarded: list[str] = []  # request lines sent on in absolute form
        self.authorizations: list[str | None] = []  # Proxy-Authorization, per request
        self.refused = 0  # requests answered 407
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(POLL)
        self.port: int = self._listener.getsockname()[1]

    def url_with(self, user: str | None = None, password: str = "") -> str:
        """The proxy's URL, with these credentials in it (quoted as a URL needs)."""
        if user is None:
            return f"http://127.0.0.1:{self.port}"
        return f"http://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The URL with the proxy's own credentials, if it has any."""
        return self.url_with(self.user, self.password)

    def start(self) -> ConnectProxy:
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
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
            raise RuntimeError(f"proxy threads still running: {alive}")

    def __enter__(self) -> ConnectProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(
            target=target,  # type: ignore[arg-type]
            args=args,
            name=f"connect-proxy-{self.port}-{len(self._threads)}",
            daemon=True,
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _keep(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        sock.settimeout(STOP_SECONDS)
        return sock

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # the listener closed: stopping
                return
            self._spawn(self._serve, self._keep(sock))

    def _receive(self, sock: socket.socket) -> bytes:
        """Some bytes, or b"" once the peer closed (or the proxy stops)."""
        while not self._stopping.is_set():
            ready, _, _ = select.select([sock], [], [], POLL)
            if ready:
                try:
                    return sock.recv(65536)
                except OSError:
                    return b""
        return b""

    def _serve(self, client: socket.socket) -> None:
        try:
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                data = self._receive(client)
                if not data or len(buffer) > MAX_HEAD:
                    return
                buffer += data
            head, _, rest = buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            fields = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:])
            }
            authorization = fields.get("proxy-authorization")
            with self._lock:
                self.authorizations.append(authorization)
            if self.user is not None and authorization != self._expected():
                with self._lock:
                    self.refused += 1
                client.sendall(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="tests"\r\n'
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = self._keep(socket.create_connection((host.strip("[]"), int(port))))
                with self._lock:
                    self.tunnels.append(target)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._relay(client, upstream, rest)
                return
            parts = urlsplit(target)
            if parts.scheme != "http" or parts.hostname is None:
                client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            upstream = self._keep(socket.create_connection((parts.hostname, parts.port or 80)))
            with self._lock:
                self.forwarded.append(lines[0])
            self._relay(client, upstream, buffer)  # the request as it came, then a tunnel
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.close()

    def _expected(self) -> str:
        pair = f"{self.user}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def _relay(self, first: socket.socket, second: socket.socket, pending: bytes) -> None:
        """`pending` to `second`, then bytes both ways until either end closes."""
        try:
            if pending:
                second.sendall(pending)
            while not self._stopping.is_set():
                ready, _, _ = select.select([first, second], [], [], POLL)
                for sock in ready:
                    data = self._receive(sock)
                    if not data:
                        return
                    (second if sock is first else first).sendall(data)
        finally:
            for sock in (first, second):
                with contextlib.suppress(OSError):
                    sock.close()
