"""The supervisor of `serve --workers N`: uvicorn's, with a health check that a worker
slow to start on a loaded machine passes, and a log that says what happened to a worker
it replaces.

uvicorn's parent pings each worker over a pipe every half second and kills one that does
not answer within `timeout_worker_healthcheck` (5 s by default). A worker answers from a
thread it starts only once its process has imported the server (strawberry, SQLAlchemy,
the graph's modules): on two busy cores that alone took longer than 5 s, and the worker
was killed before it served anything, logged as "Child process died". A worker that
answers pings is not hung (the thread answers even while its event loop is busy), so
the timeout only has to bound a process that cannot run at all: 30 s.
"""

from __future__ import annotations

import logging
import signal

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

log = logging.getLogger(__name__)

HEALTH_CHECK_SECONDS = 30


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


class Workers(Multiprocess):
    """uvicorn's `Multiprocess`, whose replacement of a worker says why it happened."""

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        timeout = self.config.timeout_worker_healthcheck
        for index, process in enumerate(self.processes):
            running = process.process.is_alive()
            if running and process.ping(timeout):
                continue
            process.kill()
            process.join()
            if not running and process.exitcode == STARTUP_FAILURE:
                log.error(
                    "worker %s failed to start (the app, its settings or the socket): "
                    "stopping the server",
                    process.pid,
                )
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            if running:
                log.error(
                    "worker %s did not answer the health check within %s s (hung, or still "
                    "starting on a loaded machine): killed it, starting another",
                    process.pid,
                    timeout,
                )
            else:
                log.error(
                    "worker %s %s: starting another", process.pid, _how_it_ended(process.exitcode)
                )
            replacement = Process(self.config, self.sockets)
            replacement.start()
            self.processes[index] = replacement


def run_workers(config: Config) -> None:
    """What `uvicorn.run` does for several workers, with `Workers` as the supervisor."""
    socket = config.bind_socket()
    try:
        Workers(config, sockets=[socket]).run()
    except KeyboardInterrupt:
        pass
    finally:
        socket.close()
