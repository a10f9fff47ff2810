"""One business's data across its provider connections: the `BusinessSource` the graph uses.

Participants are listed connection by connection, in the order the connections were made.
A position (carried inside the signed cursor) names the connection, the provider's own
cursor of the page being read, and how many items of that page were already returned, so
every participant gets a cursor of its own and paging visits each one exactly once.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from schema.errors import BadUserInput, UpstreamUnavailable
from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    Page,
    ParticipantKey,
    ParticipantRecord,
    PurchaseRecord,
    RegistrationRecord,
)
from schema.source import ActivitySessionKey
from server.providers.base import ProviderAdapter
from server.providers.errors import ProviderError

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Position:
    """Where a participants listing stands within one connection."""

    connection: str
    provider_cursor: str | None = None  # the provider page being read (None: the first)
    skip: int = 0  # items of that page already returned
    exhausted: bool = False  # the connection has nothing after this point

    def encode(self) -> str:
        return json.dumps(
            [self.connection, self.provider_cursor, self.skip, self.exhausted],
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str) -> Position:
        try:
            connection, cursor, skip, exhausted = json.loads(text)
        except (ValueError, TypeError):
            raise BadUserInput("The `after` cursor is not valid for this connection.") from None
        valid = (
            isinstance(connection, str)
            and (cursor is None or isinstance(cursor, str))
            and isinstance(skip, int)
            and skip >= 0
            and isinstance(exhausted, bool)
        )
        if not valid:
            raise BadUserInput("The `after` cursor is not valid for this connection.")
        return cls(connection, cursor, skip, exhausted)


def unavailable(adapter: ProviderAdapter, error: Exception) -> UpstreamUnavailable:
    """The one place an adapter's failure becomes what a client sees: UPSTREAM_UNAVAILABLE
    naming the provider. The operator's log gets the connection and the cause; a failure
    that is not a provider error is a bug, logged with its traceback."""
    if isinstance(error, ProviderError):
        log.warning(
            "provider call failed: connection=%s provider=%s status=%s cause=%s",
            adapter.connection,
            adapter.provider,
            error.status,
            error.detail,
        )
    else:
        log.error(
            "provider adapter failed: connection=%s provider=%s",
            adapter.connection,
            adapter.provider,
            exc_info=error,
        )
    return UpstreamUnavailable(adapter.provider)


class Federation:
    """Implements `schema.source.BusinessSource` over a business's provider adapters."""

    def __init__(self, load_adapters: Callable[[], Awaitable[list[ProviderAdapter]]]) -> None:
        self._load_adapters = load_adapters
        self._adapters: list[ProviderAdapter] | None = None

    async def adapters(self) -> list[ProviderAdapter]:
        if self._adapters is None:
            self._adapters = await self._load_adapters()
        return self._adapters

    async def _adapter_for(self, connection: str) -> ProviderAdapter | None:
        return next((a for a in await self.adapters() if a.connection == connection), None)

    async def participants(
        self, *, first: int, after: str | None
    ) -> Page[tuple[ParticipantRecord, str]]:
        adapters = await self.adapters()
        if not adapters:
            return Page((), None)
        order = [a.connection for a in adapters]
        position = Position.decode(after) if after else Position(order[0])
        if position.connection not in order:
            raise BadUserInput("The `after` cursor refers to a connection that no longer exists.")
        index = order.index(position.connection)
        items: list[tuple[ParticipantRecord, Position]] = []
        while index < len(adapters) and len(items) < first:
            if position.exhausted:
                index += 1
                position = Position(order[index]) if index < len(adapters) else position
                continue
            adapter = adapters[index]
            need = first - len(items)
            page = await self._list(adapter, position, need)
            fresh = page.items[position.skip :]
            for offset, record in enumerate(fresh[:need], start=position.skip + 1):
                if offset < len(page.items):
                    after_it = Position(adapter.connection, position.provider_cursor, offset)
                elif page.next_cursor:
                    after_it = Position(adapter.connection, page.next_cursor)
                else:
                    after_it = Position(adapter.connection, exhausted=True)
                items.append((record, after_it))
            if len(fresh) > need:
                break
            position = (
                Position(adapter.connection, page.next_cursor)
                if page.next_cursor
                else Position(adapter.connection, exhausted=True)
            )
        if not items:
            return Page((), None)
        last = items[-1][1]
        more = not last.exhausted or await self._any_after(adapters, order.index(last.connection))
        encoded = tuple((record, where.encode()) for record, where in items)
        return Page(encoded, encoded[-1][1] if more else None)

    async def _list(self, adapter: ProviderAdapter, position: Position, need: int) -> Any:
        try:
            return await adapter.list_participants(
                cursor=position.provider_cursor, limit=position.skip + need
            )
        except ProviderError as error:
            raise UpstreamUnavailable(error.provider) from error

    async def _any_after(self, adapters: list[ProviderAdapter], index: int) -> bool:
        """Whether a later connection has participants (asked only at a connection's end)."""
        for adapter in adapters[index + 1 :]:
            page = await self._list(adapter, Position(adapter.connection), 1)
            if page.items:
                return True
        return False

    async def _by_connection(
        self,
        keys: Sequence[K],
        connection_of: Callable[[K], str],
        fetch: Callable[[ProviderAdapter, list[K]], Awaitable[list[V]]],
        missing: V,
    ) -> list[V | BaseException]:
        """Split a batch by connection, fetch each group once, answer in the keys' order.

        A failing provider fails only the keys it serves.
        """
        groups: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            groups[connection_of(key)].append(i)
        results: list[V | BaseException] = [missing] * len(keys)
        for connection, indexes in groups.items():
            adapter = await self._adapter_for(connection)
            if adapter is None:
                continue
            try:
                values = await fetch(adapter, [keys[i] for i in indexes])
            except Exception as error:
                failure = unavailable(adapter, error)
                for i in indexes:
                    results[i] = failure
                continue
            for i, value in zip(indexes, values, strict=True):
                results[i] = value
        return results

    async def participants_by_key(
        self, keys: Sequence[ParticipantKey]
    ) -> list[ParticipantRecord | None | BaseException]:
        async def fetch(adapter: ProviderAdapter, group: list[ParticipantKey]) -> list[Any]:
            found = await adapter.participants_by_id([k.provider_id for k in group])
            return [found.get(k.provider_id) for k in group]

        return await self._by_connection(keys, lambda k: k.connection, fetch, None)

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None | BaseException]:
        return await self._by_connection(
            participants, lambda p: p.key.connection, lambda a, g: a.consents(g), None
        )

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord] | BaseException]:
        return await self._by_connection(
            participants, lambda p: p.key.connection, lambda a, g: a.registrations(g), []
        )

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord] | BaseException]:
        return await self._by_connection(
            participants, lambda p: p.key.connection, lambda a, g: a.purchases(g), []
        )

    async def activity_sessions(
        self, keys: Sequence[ActivitySessionKey]
    ) -> list[ActivitySessionRecord | None | BaseException]:
        async def fetch(adapter: ProviderAdapter, group: list[ActivitySessionKey]) -> list[Any]:
            found = await adapter.activity_sessions([k.provider_id for k in group])
            return [found.get(k.provider_id) for k in group]

        return await self._by_connection(keys, lambda k: k.connection, fetch, None)
