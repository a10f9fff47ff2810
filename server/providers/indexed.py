"""Indexed providers: crawled into the store, read from it at query time.

A provider whose API cannot be read per query (too few requests a minute, no lookup by
person) brings a crawler: it yields what it finds, a batch at a time, each with the
checkpoint to resume from. The sync worker commits each batch with its checkpoint. At
query time one `IndexedAdapter` serves every indexed connection from the index with
batched SQL, through the same adapter interface as a live provider: its positions are
keysets (the number of the last participant listed).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar

import msgspec

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
from server.providers.errors import InvalidResponse
from server.store.index import Found, IndexStore

log = logging.getLogger(__name__)
T = TypeVar("T")

# What a crawled page may hold, checked as it is decoded (a page that breaks it is a
# provider failure, and nothing of it is indexed): ids and emails that fit the index and
# keep a checkpoint small, timestamps with a time zone in a plausible range.
ProviderId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[str, msgspec.Meta(max_length=400)]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
TEXT = 400  # the index's width for names and titles: longer ones are cut
EARLIEST, LATEST = 1970, 9999  # the years a provider's timestamp may fall in


def check_years(*moments: datetime | None) -> None:
    """For a struct's `__post_init__`: a timestamp before 1970 is no provider's record
    (and one near year 1 cannot be moved back by an overlap)."""
    for moment in moments:
        if moment is not None and not EARLIEST <= moment.year <= LATEST:
            raise ValueError(f"a timestamp in the year {moment.year}")


def clip(text: str | None) -> str | None:
    return text[:TEXT] if text else None


def read_checkpoint(raw: Any, into: type[T], connection: str) -> T | None:
    """A stored checkpoint as the crawler's own type; None (a crawl from the start) when
    it cannot be read: a crawl that starts afresh rewrites what it finds again, where one
    that failed on its checkpoint would fail at every sync."""
    if raw is None:
        return None
    try:
        return msgspec.convert(raw, into)
    except (msgspec.ValidationError, TypeError, ValueError) as error:
        log.warning(
            "unreadable checkpoint, crawling from the start: connection=%s error=%s",
            connection,
            error,
        )
        return None


class SeenItems:
    """The items one sync pass has read from one list: a page that brings back an item
    already read, where new ones were expected, is a provider failure, not a loop."""

    def __init__(self, provider: str, what: str) -> None:
        self._provider = provider
        self._what = what
        self._seen: set[str] = set()

    def add(self, ids: Sequence[str]) -> None:
        repeated = len(ids) - len(set(ids) - self._seen)
        if repeated:
            raise InvalidResponse(
                self._provider,
                f"a page of {self._what} repeats items already read ({repeated} of "
                f"{len(ids)}) where new ones were expected",
            )
        self._seen.update(ids)


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
