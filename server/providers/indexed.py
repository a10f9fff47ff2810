"""Indexed providers: crawled into the store, read from it at query time.

A provider whose API cannot be read per query (too few requests a minute, no lookup by
person) brings a crawler: it yields what it finds, a batch at a time, each with the
checkpoint to resume from. The sync worker commits each batch with its checkpoint. At
query time one `IndexedAdapter` serves every indexed connection from the index with
batched SQL, through the same adapter interface as a live provider: its positions are
keysets (the number of the last participant listed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from schema.errors import BadUserInput
from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantRecord,
    PurchaseRecord,
    RegistrationRecord,
)
from schema.scalars import Instant
from schema.source import ConnectionRecord
from server.providers.base import Listed
from server.store.index import Found, IndexStore


class IndexView(Protocol):
    """What a crawler may read back from the index of its own connection."""

    async def sessions_starting_between(self, start: Instant, end: Instant) -> list[str]: ...

    async def sessions(self, ids: Sequence[str]) -> dict[str, ActivitySessionRecord]: ...


class Crawler(Protocol):
    def crawl(self, checkpoint: Any, now: datetime) -> AsyncIterator[Found]:
        """Batches from `checkpoint` (None: a first, full crawl) until caught up. The last
        batch's checkpoint is where the next sync starts (incrementally)."""
        ...


# A person's provider id from what identifies them at the provider (an email): keyed, so
# that a GID never reveals an email to a key without the scope to read it.
PersonIds = Callable[[str], str]


class IndexedAdapter:
    def __init__(self, index: IndexStore, connection: ConnectionRecord) -> None:
        self.provider = connection.provider
        self.connection = connection.public_id
        self._id = connection.id
        self._index = index

    async def list_participants(self, *, position: str | None, limit: int) -> Listed:
        after = _keyset(position)
        rows = await self._index.participants_after(
            self._id, after, limit + 1, self.connection, self.provider
        )
        shown, more = rows[:limit], len(rows) > limit
        listed = [
            (record, str(number) if more or i + 1 < len(shown) else None)
            for i, (number, record) in enumerate(shown)
        ]
        return Listed(tuple(listed), listed[-1][1] if listed else None)

    async def participants_by_id(self, ids: Sequence[str]) -> dict[str, ParticipantRecord]:
        return await self._index.participants_by_id(self._id, ids, self.connection, self.provider)

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None]:
        return [None] * len(participants)

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord]]:
        found = await self._index.registrations_of(
            self._id, [p.key.provider_id for p in participants]
        )
        return [found.get(p.key.provider_id, []) for p in participants]

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord]]:
        return [[] for _ in participants]

    async def activity_sessions(self, ids: Sequence[str]) -> dict[str, ActivitySessionRecord]:
        return await self._index.sessions_by_id(self._id, ids)


def _keyset(position: str | None) -> int:
    if position is None:
        return 0
    if position.isdigit():
        return int(position)
    raise BadUserInput("The `after` cursor is not valid for this list.")


class ConnectionIndex:
    """`IndexView` over one connection."""

    def __init__(self, index: IndexStore, connection_id: int) -> None:
        self._index = index
        self._id = connection_id

    async def sessions_starting_between(self, start: Instant, end: Instant) -> list[str]:
        return await self._index.sessions_starting_between(self._id, start, end)

    async def sessions(self, ids: Sequence[str]) -> dict[str, ActivitySessionRecord]:
        return await self._index.sessions_by_id(self._id, ids)
