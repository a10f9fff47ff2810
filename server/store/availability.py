"""The store not answering is a dependency's outage, not a defect of the server.

A session of the server's store (`StoreSession`) turns a failure to reach the database
(refused, lost, timed out, shutting down, out of connections, a SQLite file that cannot
be opened) into `StoreUnavailable`: a `ServiceUnavailable`, which every endpoint answers
with HTTP 503, `Retry-After` and the code SERVICE_UNAVAILABLE instead of a 500 and a
traceback. `Outage` logs it once when it starts and once when the store answers again,
however many requests it fails meanwhile. Any other failure (a constraint, a bug) is left
as it is.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from schema.errors import ServiceUnavailable

log = logging.getLogger(__name__)

OUTAGE = "outage"  # the key of a session's `info` holding its `Outage`
# SQLSTATE classes of a server that cannot serve: connection exception, operator
# intervention (shutting down, starting up), insufficient resources (too many connections).
_UNAVAILABLE_SQLSTATES = ("08", "57P", "53")


class StoreUnavailable(ServiceUnavailable):
    """The store did not answer; `cause` says why, for the operator (never the client)."""

    def __init__(self, cause: str) -> None:
        super().__init__()
        self.cause = cause

    def __str__(self) -> str:  # what a command prints; a client sees only the message
        return f"The store did not answer ({self.cause}): check that it is running, then retry."


# A store that stops answering fails a request within these, instead of holding it (and
# a pooled connection) for as long as the driver would wait: seconds to connect, seconds
# for one statement (the longest a server sends is a sync's batch of 500 rows).
CONNECT_SECONDS = 5.0
STATEMENT_SECONDS = 10.0


SQLITE_LOCK_SECONDS = 15.0


def bounded_waits(url: str) -> dict[str, Any]:
    """`create_engine` options bounding the waits on the store: on PostgreSQL to connect
    and per statement; on SQLite, a local file with one writer at a time, for the write
    lock (`SQLITE_LOCK_SECONDS`: sync passes of several connections commit in turn, and
    a reader waits only while a writer commits)."""
    if url.startswith("postgresql"):
        return {"connect_args": {"timeout": CONNECT_SECONDS, "command_timeout": STATEMENT_SECONDS}}
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_LOCK_SECONDS}}
    return {}


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        pending += [
            current.__cause__,
            current.__context__,
            orig if isinstance(orig, BaseException) else None,
        ]


def unavailable_cause(error: BaseException) -> str | None:
    """Why the store could not be used, in a few words, or None when `error` is anything
    else than the store not answering."""
    for current in _chain(error):
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return "the connection was lost"
        if isinstance(current, PoolTimeout):
            return "no connection to it was free in time"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, TimeoutError):
            return "it did not answer in time"
        if isinstance(current, OSError):
            return (current.strerror or type(current).__name__).lower()
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return _first_line(current)
        if isinstance(current, sqlite3.OperationalError):
            text = _first_line(current)
            if not text.startswith("no such ") and "syntax error" not in text:
                return text  # unable to open, disk I/O error, locked, read-only
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Outage:
    """The store's outages, each logged twice: when the first failure is seen and when it
    answers again (with how long it was down)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since: float | None = None

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, cause: str) -> None:
        if self._since is None:
            self._since = self._clock()
            log.warning(
                "dependency failed: dependency=store cause=%s; requests that need it are "
                "answered 503 SERVICE_UNAVAILABLE until it answers",
                cause,
            )

    def answered(self) -> None:
        if self._since is not None:
            log.warning(
                "dependency recovered: dependency=store after %.1f s",
                self._clock() - self._since,
            )
            self._since = None


class StoreSession(AsyncSession):
    """The server's sessions: a failure to reach the store leaves the `async with` block
    as `StoreUnavailable` (reported to the sessionmaker's `Outage`, if any)."""

    async def __aexit__(
        self,
        type_: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await super().__aexit__(type_, value, traceback)
        outage: Any = self.info.get(OUTAGE)
        if value is None:
            if outage is not None:
                outage.answered()
            return
        if isinstance(value, StoreUnavailable) or not isinstance(value, Exception):
            return
        cause = unavailable_cause(value)
        if cause is None:
            return
        if outage is not None:
            outage.failed(cause)
        raise StoreUnavailable(cause) from value
