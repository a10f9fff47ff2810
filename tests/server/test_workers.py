"""`serve --workers N`: a worker slow to start on a loaded machine is given time to
answer uvicorn's health check, and a worker replaced is logged with what happened."""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from server import serving, workers
from server.workers import HEALTH_CHECK_SECONDS, Workers
from tests.server.conftest import settings_for


def test_serve_with_workers_gives_uvicorn_the_health_check_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[uvicorn.Config] = []

    async def ready(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(serving, "prepare_store", ready)
    monkeypatch.setattr(serving, "configure_logging", lambda settings: None)
    monkeypatch.setattr(serving, "shared_metrics", lambda n: contextlib.nullcontext())
    monkeypatch.setattr(serving, "run_workers", ran.append)
    settings = settings_for(tmp_path, redis_url="redis://127.0.0.1:1/0")

    serving.serve(settings, host="127.0.0.1", port=0, workers=2)

    [config] = ran
    assert config.workers == 2 and config.factory
    assert config.timeout_worker_healthcheck == HEALTH_CHECK_SECONDS >= 30


class _Worker:
    """What the supervisor sees of a worker process."""

    def __init__(self, pid: int, alive: bool, answers: bool, exitcode: int | None) -> None:
        self.pid, self._answers, self.exitcode = pid, answers, exitcode
        self.process = type("P", (), {"is_alive": lambda _: alive})()
        self.killed = False

    def ping(self, timeout: float) -> bool:
        return self._answers

    def kill(self) -> None:
        self.killed = True

    def join(self) -> None:
        return None


@pytest.mark.parametrize(
    ("worker", "logged"),
    [
        (
            _Worker(101, alive=True, answers=False, exitcode=-9),
            "worker 101 did not answer the health check within 30 s (hung, or still starting "
            "on a loaded machine): killed it, starting another",
        ),
        (
            _Worker(102, alive=False, answers=False, exitcode=-11),
            "worker 102 killed by SIGSEGV: starting another",
        ),  # fmt: skip
        (
            _Worker(103, alive=False, answers=False, exitcode=1),
            "worker 103 exited with code 1: starting another",
        ),  # fmt: skip
    ],
)
def test_a_replaced_worker_is_logged_with_what_happened(
    worker: _Worker, logged: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    started: list[Any] = []

    class Replacement:
        def __init__(self, config: Any, sockets: Any) -> None:
            started.append(self)

        def start(self) -> None:
            return None

    monkeypatch.setattr(workers, "Process", Replacement)
    supervisor = Workers.__new__(Workers)  # (its __init__ takes over the process's signals)
    supervisor.config = uvicorn.Config("x:y", timeout_worker_healthcheck=HEALTH_CHECK_SECONDS)
    supervisor.sockets = []
    supervisor.should_exit = threading.Event()
    healthy = _Worker(100, alive=True, answers=True, exitcode=None)
    supervisor.processes = [healthy, worker]  # type: ignore[list-item]

    with caplog.at_level(logging.INFO, logger="server.workers"):
        supervisor.keep_subprocess_alive()

    assert [r.getMessage() for r in caplog.records] == [logged]
    assert worker.killed and not healthy.killed
    assert supervisor.processes == [healthy, *started]
