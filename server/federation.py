"""One business's data across its provider connections: the `BusinessSource` the graph uses.

Participants are listed connection by connection, in the order the connections were made.
The listing's position holds each connection's own position (the adapter's format,
opaque here), so a connection that fails keeps its place while the page fills from the
healthy ones, and a client paging on after it recovers sees each participant once.

Relations (consent, registrations, purchases, sessions) are asked of each connection once
per batch, all connections at the same time; a failing connection fails only the keys it
serves. The one place an adapter's failure becomes what a client sees is `unavailable`.

A page asked for again in the same request (the same `first` and `after`, as aliases of one
field do) is read once: fifteen aliased `participants(first: 1)` make the provider calls of
one, so what a request costs the providers follows what its price says.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from schema.errors import ClientError, UpstreamUnavailable
from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantKey,
    ParticipantRecord,
    ParticipantsPage,
    Position,
    PurchaseRecord,
    RegistrationRecord,
)
from schema.scalars import Instant
from schema.source import ActivitySessionKey
from server.providers.errors import ProviderError
from server.runtimes import ConnectionRuntime
from server.store.availability import StoreUnavailable

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


def unavailable(runtime: ConnectionRuntime, error: Exception) -> UpstreamUnavailable:
    """UPSTREAM_UNAVAILABLE naming the provider and the connection (and, when the provider
    or its open circuit says when to try again, `retryAfter`), for the client; the
    connection and the cause, for the operator's log. An indexed connection whose index
    the store could not read is unavailable the same way (the live connections answer
    meanwhile); the store's outage is logged once, where it is seen, not per request. A
    failure that is neither is a bug, logged with its traceback."""
    connection, provider = runtime.connection.public_id, runtime.provider
    retry_after = getattr(error, "retry_after", None)
    if isinstance(error, StoreUnavailable):
        pass
    elif isinstance(error, ProviderError):
        log.warning(
            "provider call failed: connection=%s provider=%s status=%s cause=%s",
            connection,
            provider,
            error.status,
            error.detail,
        )
    else:
        log.error(
            "provider adapter failed: connection=%s provider=%s",
            connection,
            provider,
            exc_info=error,
        )
    seconds = None if retry_after is None else max(math.ceil(retry_after), 1)
    return UpstreamUnavailable(provider, connection, retry_after=seconds)


class Federation:
    """Implements `schema.source.BusinessSource` over a business's connection runtimes."""

    def __init__(self, load: Callable[[], Awaitable[list[ConnectionRuntime]]]) -> None:
        self._load = load
        self._runtimes: list[ConnectionRuntime] | None = None
        self._indexed_read: dict[str, ConnectionRuntime] = {}
        self._pages: dict[tuple[int, Hashable], asyncio.Future[ParticipantsPage]] = {}

    def _reading(self, runtime: ConnectionRuntime) -> None:
        if runtime.indexed:
            self._indexed_read[runtime.connection.public_id] = runtime

    def freshness(self) -> list[dict[str, Any]]:
        """For each indexed connection this request read: how old its index is."""
        return [
            {
                "provider": runtime.provider,
                "connection": connection,
                "lastSyncedAt": Instant.of(runtime.synced_at),
            }
            for connection, runtime in self._indexed_read.items()
        ]

    async def runtimes(self) -> list[ConnectionRuntime]:
        if self._runtimes is None:
            self._runtimes = await self._load()
        return self._runtimes

    async def participants(self, *, first: int, after: Position | None) -> ParticipantsPage:
        key = (first, None if after is None else tuple(sorted(after.items())))
        page = self._pages.get(key)
        if page is None:
            page = asyncio.ensure_future(self._participants(first, after))
            self._pages[key] = page
        # Shielded: one waiter cancelled (its field's own timeout) leaves the others theirs.
        return await asyncio.shield(page)

    async def _participants(self, first: int, after: Position | None) -> ParticipantsPage:
        runtimes = await self.runtimes()
        place: dict[str, str | None] = {}
        if after is not None:
            # A connection removed since the cursor was issued has nothing left to list.
            known = {r.connection.public_id for r in runtimes}
            place = {c: p for c, p in after.items() if c in known}
        items: list[tuple[ParticipantRecord, Position]] = []
        failures: list[UpstreamUnavailable] = []
        for runtime in runtimes:
            connection = runtime.connection.public_id
            while len(items) < first and (connection not in place or place[connection]):
                self._reading(runtime)
                try:
                    listed = await runtime.adapter.list_participants(
                        position=place.get(connection), limit=first - len(items)
                    )
                except ClientError as error:
                    if not isinstance(error, StoreUnavailable):
                        raise  # a cursor the adapter refuses: the client's mistake
                    failures.append(unavailable(runtime, error))
                    break
                except Exception as error:
                    failures.append(unavailable(runtime, error))
                    break  # it keeps its place; the page fills from the next connections
                for record, position in listed.participants:
                    place[connection] = position
                    items.append((record, dict(place)))
                place[connection] = listed.end
                if not listed.participants:
                    break
            if len(items) >= first:
                break
        has_next = any(place.get(r.connection.public_id, "") is not None for r in runtimes)
        return ParticipantsPage(tuple(items), dict(place), has_next, tuple(failures))

    async def _by_connection(
        self,
        keys: Sequence[K],
        connection_of: Callable[[K], str],
        fetch: Callable[[ConnectionRuntime, list[K]], Awaitable[list[V]]],
        missing: V,
    ) -> list[V | BaseException]:
        """Split a batch by connection, fetch each group once (all groups at the same
        time), answer in the keys' order. A failing connection fails only its keys."""
        groups: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            groups[connection_of(key)].append(i)
        by_id = {r.connection.public_id: r for r in await self.runtimes()}
        results: list[V | BaseException] = [missing] * len(keys)

        async def one(connection: str, indexes: list[int]) -> None:
            runtime = by_id.get(connection)
            if runtime is None:  # a key of a connection removed meanwhile: nothing there
                return
            self._reading(runtime)
            try:
                values = await fetch(runtime, [keys[i] for i in indexes])
            except Exception as error:
                failure = unavailable(runtime, error)
                for i in indexes:
                    results[i] = failure
                return
            for i, value in zip(indexes, values, strict=True):
                results[i] = value

        await asyncio.gather(*(one(c, indexes) for c, indexes in groups.items()))
        return results

    async def participants_by_key(
        self, keys: Sequence[ParticipantKey]
    ) -> list[ParticipantRecord | None | BaseException]:
        async def fetch(runtime: ConnectionRuntime, group: list[ParticipantKey]) -> list[Any]:
            found = await runtime.adapter.participants_by_id([k.provider_id for k in group])
            return [found.get(k.provider_id) for k in group]

        return await self._by_connection(keys, lambda k: k.connection, fetch, None)

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None | BaseException]:
        return await self._by_connection(
            participants, lambda p: p.key.connection, lambda r, g: r.adapter.consents(g), None
        )

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord] | BaseException]:
        return await self._by_connection(
            participants, lambda p: p.key.connection, lambda r, g: r.adapter.registrations(g), []
        )

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord] | BaseException]:
        return await self._by_connection(
            participants, lambda p: p.key.connection, lambda r, g: r.adapter.purchases(g), []
        )

    async def activity_sessions(
        self, keys: Sequence[ActivitySessionKey]
    ) -> list[ActivitySessionRecord | None | BaseException]:
        async def fetch(runtime: ConnectionRuntime, group: list[ActivitySessionKey]) -> list[Any]:
            found = await runtime.adapter.activity_sessions([k.provider_id for k in group])
            return [found.get(k.provider_id) for k in group]

        return await self._by_connection(keys, lambda k: k.connection, fetch, None)
