"""Emulated providers on a real socket, for the whole test session.

One uvicorn server on 127.0.0.1 runs in a thread of its own with its own event loop,
as a provider runs on a host of its own: the server under test reaches it through the
transport production runs (`server/providers/http1.py`), over TCP, and neither event
loop waits on the other. Each test mounts the apps it needs (an emulator, a hostile
provider) under a prefix of its own and gets their base URL; the apps keep their state
in this process, so a test still sets an emulator's faults and reads its request counts.

Nothing an app raises reaches uvicorn's log: a client that went away mid-answer is what
hostile tests do on purpose, and anything else is kept in `failures` (and answered 500),
where `assert_no_failures` finds it.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
import traceback
from typing import Any

import uvicorn
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

STARTUP_SECONDS = 30


class SocketUpstream:
    """An HTTP server whose paths `/<prefix>/...` lead to the app mounted at that prefix."""

    def __init__(self) -> None:
        self._apps: dict[str, ASGIApp] = {}
        self._numbers = itertools.count(1)
        self.failures: list[str] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> SocketUpstream:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulated providers' server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def mount(self, app: ASGIApp, name: str = "app") -> str:
        """Serve `app` under `/name` (or `/name-N` while that is taken); its base URL, with
        no trailing slash."""
        prefix = name
        while prefix in self._apps:
            prefix = f"{name}-{next(self._numbers)}"
        self._apps[prefix] = app
        return f"{self.origin}/{prefix}"

    def unmount(self, base_url: str) -> None:
        self._apps.pop(base_url.rsplit("/", 1)[-1], None)

    def assert_no_failures(self) -> None:
        failures, self.failures[:] = list(self.failures), []
        assert not failures, "an emulated provider failed:\n" + "\n".join(failures)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        prefix = path[1:].partition("/")[0]
        app = self._apps.get(prefix)
        if app is None:
            await _not_found(send)
            return
        # As Starlette's Mount does: the path stays whole, the prefix joins `root_path`.
        mounted: dict[str, Any] = {**scope, "root_path": scope.get("root_path", "") + "/" + prefix}
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await app(mounted, receive, sending)
        except (ClientDisconnect, OSError):
            pass  # the client stopped reading: what a hostile test does on purpose
        except Exception:  # noqa: BLE001 - kept for the test to see, answered 500
            self.failures.append(f"{scope['method']} {path}\n{traceback.format_exc()}")
            if not started:
                await send({"type": "http.response.start", "status": 500, "headers": []})
                await send({"type": "http.response.body", "body": b""})


async def _not_found(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"no app mounted here"})
