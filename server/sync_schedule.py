"""When each indexed connection is due for its next sync pass, in the background worker.

Every connection has a schedule of its own: due `interval` seconds after its last pass
ended (at once when it is new), so a slow connection never holds back another's. When a
slot of the worker frees, the connection overdue the longest takes it. A pass that
stopped at a bound (not caught up) is due again at once, but behind every connection
already waiting: so even when as many misbehaving connections as there are slots crawl
at once, each of them runs for at most one bounded pass before a waiting connection
gets its turn, and a healthy connection is late by at most one pass's bound
(`BUSINESS_API_SYNC_PASS_SECONDS`), never for as long as the misbehaving one lasts.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable


class Schedule:
    def __init__(self, interval_seconds: float) -> None:
        self._interval = interval_seconds
        # connection -> (when its next pass is due, the order it was made due in: of two
        # due at the same moment, the one made due first goes first)
        self._due: dict[str, tuple[float, int]] = {}
        self._order = itertools.count()

    def keep(self, connections: Iterable[str], now: float) -> None:
        """Track exactly these connections: a new one is due now, a removed one dropped."""
        wanted = set(connections)
        for gone in self._due.keys() - wanted:
            del self._due[gone]
        for new in sorted(wanted - self._due.keys()):
            self._due[new] = (now, next(self._order))

    def due(self, now: float, busy: Collection[str], slots: int) -> list[str]:
        """Up to `slots` connections due by `now` and not running, the longest overdue
        first."""
        waiting = sorted(
            (due, connection)
            for connection, due in self._due.items()
            if due[0] <= now and connection not in busy
        )
        return [connection for _, connection in waiting[: max(slots, 0)]]

    def next_due(self, busy: Collection[str]) -> float | None:
        """When the next connection not running is due (None: every one is running)."""
        return min((d for c, (d, _) in self._due.items() if c not in busy), default=None)

    def ended(
        self, connection: str, now: float, *, go_on: bool, interval: float | None = None
    ) -> None:
        """A pass of `connection` ended: due again now when it stopped at a bound and has
        more to do (`go_on`), else after the interval (the schedule's, or the
        connection's own: a live connection's watch interval)."""
        if connection in self._due:
            after = self._interval if interval is None else interval
            self._due[connection] = (now if go_on else now + after, next(self._order))
