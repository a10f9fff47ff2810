"""The Sessionboard crawler: an organisation's contacts, and its events' sessions with
their participants and speakers, into the index (a connection in `indexed` mode).

Sessionboard allows 100 requests per 15 minutes per token and category (contacts,
sessions, events). Read per query, eight busy clients spend that in a minute and a half;
crawled, an unchanged organisation costs one events page, one contacts page and one
sessions page per event a sync, whatever the clients ask. The sync worker's outbound
budget paces the requests (`OutboundLimit` in `spec.py`), so a crawl never goes over it:
it waits instead.

The records are the live adapter's (`mapping.py`): the same participant, registration and
session ids, names, emails and statuses, so a connection's GIDs do not depend on its mode.

A **full crawl** (no checkpoint) reads everything: every contact in creation order (so the
index lists participants as the live adapter does), then every session of every event,
each session's participants and speakers inverted into registrations. The sync engine
takes the rows a full crawl no longer finds as removed. An **incremental crawl** (a
checkpoint from a finished pass) asks only for the contacts and sessions updated since the
newest `updatedAt` indexed, minus `OVERLAP`: Sessionboard caches reads for up to three
minutes, so a record updated just before the last crawl may have been served as it was;
five minutes cover that and some clock skew, at the price of reading those few records
again. A registration that ends (a contact leaving a session) touches its session, whose
current lists are read again, but only a full crawl removes the pair.

Lists are walked by keyset, not by page number: each request asks for items after the
newest timestamp read (minus a millisecond, the ids already read at that moment left
out), 100 at a time. A contact removed while a full crawl runs then shifts no page under
it (a shifted page would skip one, and a full crawl that skips one removes it), and a
record updated during an incremental walk moves to its end and is read there. The next
incremental crawl starts from the newest timestamp seen, but never later than when this
pass started: a record updated behind the walk (an event already read) is newer than
that.

Each page is committed with the checkpoint after it, so an interrupted crawl goes on from
its last page. Pages are checked as they are read: ids that fit the index, timestamps in
a plausible range, items that honour the filter asked for; a page bringing back contacts
this pass already read, where new ones were expected, is a provider failure, not a loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

import msgspec

from schema.records import RegistrationRecord
from schema.scalars import Instant
from schema.source import ConnectionRecord
from server.providers.errors import InvalidResponse
from server.providers.http import PagingGuard, ProviderHttp
from server.providers.indexed import (
    ProviderId,
    SeenItems,
    Timestamp,
    check_years,
    clip,
    read_checkpoint,
)
from server.providers.sessionboard import mapping
from server.providers.sessionboard.client import LAST_PAGE, PAGE_SIZE, contacts_path
from server.store.index import Found

OVERLAP = timedelta(minutes=5)
TIE = timedelta(milliseconds=1)  # the walk asks again for what was read this close to its end
MAX_TIED = 1000  # ids kept at a walk's end: more items at one moment is no real organisation
MAX_EVENT_PAGES = 100
REGISTERED = 1  # precedence: Sessionboard tells of a pair in one place only

Field = Literal["createdAt", "updatedAt"]


class Walk(msgspec.Struct, omit_defaults=True):
    """Where a keyset walk of one list stands: the newest timestamp read, the ids read
    within `TIE` of it, and the page of that filter to ask for."""

    after: Timestamp | None = None
    read: Annotated[list[ProviderId], msgspec.Meta(max_length=MAX_TIED)] = []
    page: Annotated[int, msgspec.Meta(ge=1, le=LAST_PAGE)] = 1

    def __post_init__(self) -> None:
        check_years(self.after)


class Checkpoint(msgspec.Struct, omit_defaults=True):
    """The newest `updatedAt` indexed, per list, where the next incremental crawl starts;
    while a pass is under way (`started` set), what it is walking."""

    contacts_since: Timestamp | None = None
    sessions_since: Timestamp | None = None
    started: Timestamp | None = None  # None: caught up
    full: bool = False
    step: Literal["contacts", "sessions"] = "contacts"
    event: ProviderId | None = None  # the event whose sessions are walked
    walk: Walk = msgspec.field(default_factory=Walk)
    newest: Timestamp | None = None  # the newest `updatedAt` this step has read

    def __post_init__(self) -> None:
        check_years(self.contacts_since, self.sessions_since, self.started, self.newest)

    def written(self) -> Any:
        return msgspec.to_builtins(self)


class SessionboardCrawler:
    def __init__(self, http: ProviderHttp, connection: ConnectionRecord) -> None:
        self._http = http
        self._connection = connection.public_id
        self._contacts_path = contacts_path(connection.account_id)

    async def crawl(self, checkpoint: Any, now: datetime) -> AsyncIterator[Found]:
        state = read_checkpoint(checkpoint, Checkpoint, self._connection)
        if state is None:  # a full crawl
            state = Checkpoint(started=now, full=True)
        elif state.started is None:  # caught up last time: what changed since
            state = Checkpoint(
                state.contacts_since,
                state.sessions_since,
                started=now,
                walk=Walk(after=_back(state.contacts_since)),
            )
        if state.step == "contacts":
            async for found in self._contacts(state):
                yield found
        async for found in self._sessions(state):
            yield found

    # -- contacts

    async def _contacts(self, state: Checkpoint) -> AsyncIterator[Found]:
        field: Field = "createdAt" if state.full else "updatedAt"
        seen = SeenItems(mapping.PROVIDER, "contacts") if state.full else None
        async for contacts in self._walk(self._contacts_path, mapping.ContactsPage, field, state):
            if seen is not None:
                seen.add([_id(c.id) for c in contacts])
            state.newest = _newest(state.newest, (c.updated_at for c in contacts))
            participants = []
            for contact in contacts:
                record = mapping.participant(self._connection, contact)
                clipped = {"name": clip(record.name), "email": clip(record.email)}
                participants.append(msgspec.structs.replace(record, **clipped))
            yield Found(participants=participants, checkpoint=state.written())
        state.contacts_since = _since(state)
        state.step, state.event, state.newest, state.walk = "sessions", None, None, Walk()
        yield Found(checkpoint=state.written())

    # -- sessions

    async def _sessions(self, state: Checkpoint) -> AsyncIterator[Found]:
        events = [_id(event.id) for event in await self._events()]
        start = events.index(state.event) if state.event in events else 0
        for event in events[start:]:
            if event != state.event:
                state.event = event
                state.walk = Walk(after=None if state.full else _back(state.sessions_since))
            path = f"/v1/event/{quote(event, safe='')}/sessions"
            field: Field = "createdAt" if state.full else "updatedAt"
            async for sessions in self._walk(path, mapping.SessionsPage, field, state):
                state.newest = _newest(state.newest, (s.updated_at for s in sessions))
                yield Found(
                    sessions=[mapping.activity_session(event, s) for s in sessions],
                    registrations=[r for s in sessions for r in _registrations(event, s)],
                    checkpoint=state.written(),
                )
        state.sessions_since = _since(state)
        caught_up = Checkpoint(state.contacts_since, state.sessions_since)
        yield Found(checkpoint=caught_up.written())

    async def _events(self) -> list[mapping.Event]:
        """Every event (a short list, read whole each pass: it has no changed-since
        filter)."""
        guard = PagingGuard(mapping.PROVIDER, MAX_EVENT_PAGES)
        events: list[mapping.Event] = []
        page = 1
        while True:
            params = {"page": page, "pageSize": PAGE_SIZE}
            answer = await self._http.get("/v1/events", mapping.EventsPage, params)
            events += answer.items()
            if not answer.more_pages() or page >= LAST_PAGE:
                break
            page += 1
            guard.more(page, len(answer.items()))
        unique = {_id(event.id): event for event in events}
        if len(unique) < len(events):
            raise InvalidResponse(mapping.PROVIDER, "the events list repeats an event")
        return list(unique.values())

    # -- the keyset walk

    async def _walk(
        self, path: str, page_type: Any, field: Field, state: Checkpoint
    ) -> AsyncIterator[list[Any]]:
        """Pages of new items of one list in `field` order, from `state.walk` on, which
        it moves past each page before yielding it."""
        walk = state.walk
        attribute = "created_at" if field == "createdAt" else "updated_at"
        while True:
            body: dict[str, Any] = {"sort": {"order": field, "sort": "asc"}}
            floor = walk.after - TIE if walk.after is not None else None
            if floor is not None:
                body["filters"] = {field: {"after": str(Instant.at(floor))}}
            params = {"page": walk.page, "pageSize": PAGE_SIZE}
            answer = await self._http.post(path, body, page_type, params=params)
            items = answer.items()
            if len(items) > PAGE_SIZE:
                raise InvalidResponse(mapping.PROVIDER, f"{len(items)} items on a page of {path}")
            moments = [_moment(getattr(item, attribute)) for item in items]
            if floor is not None and any(m is not None and m <= floor for m in moments):
                raise InvalidResponse(
                    mapping.PROVIDER, f"{path} answered items outside the {field} filter asked"
                )
            read = set(walk.read)
            new = [item for item in items if _id(item.id) not in read]
            # the last page: it says so, or holds fewer than asked for
            last = len(items) < PAGE_SIZE or (
                answer.pagination is not None and not answer.more_pages()
            )
            if not last:
                if walk.page >= LAST_PAGE:
                    raise InvalidResponse(mapping.PROVIDER, f"{path} pages past page {LAST_PAGE}")
                state.walk = walk = _past(walk, items, moments)
            if new:
                yield new
            if last:
                return


def _past(walk: Walk, items: Sequence[Any], moments: Sequence[datetime | None]) -> Walk:
    """The walk after a full page: on from its newest moment, or to the next page of the
    same filter when it moved no further (items tied at its end, or undated)."""
    dated = [(m, _id(item.id)) for item, m in zip(items, moments, strict=True) if m is not None]
    newest = max((m for m, _ in dated), default=None)
    if newest is None or (walk.after is not None and newest <= walk.after):
        tied = list(dict.fromkeys([*walk.read, *(_id(item.id) for item in items)]))
        return Walk(walk.after, _bounded(tied), min(walk.page + 1, LAST_PAGE))
    kept = [i for i in walk.read if walk.after is not None and walk.after > newest - TIE]
    tied = list(dict.fromkeys([*kept, *(i for m, i in dated if m > newest - TIE)]))
    return Walk(newest, _bounded(tied), 1)


def _bounded(ids: list[str]) -> list[str]:
    if len(ids) > MAX_TIED:
        raise InvalidResponse(
            mapping.PROVIDER, f"more than {MAX_TIED} items share one moment in a list"
        )
    return ids


def _registrations(
    event: str, session: mapping.Session
) -> list[tuple[str, RegistrationRecord, int]]:
    """The live adapter's registrations of one session: each person it lists once."""
    people = {_id(p.id) for p in (*session.participants, *session.speakers)}
    found = []
    for contact in sorted(people):
        registration = mapping.registration(event, session, contact)
        if registration is not None:
            if len(registration.provider_id) > 400:
                raise InvalidResponse(mapping.PROVIDER, "a registration id longer than 400")
            found.append((contact, registration, REGISTERED))
    return found


def _id(raw: mapping.Id) -> str:
    """A Sessionboard id as the index keeps it."""
    text = str(raw)
    if not 1 <= len(text) <= 190:  # room for an event id and a `/` in a session's key
        raise InvalidResponse(mapping.PROVIDER, f"an id of {len(text)} characters")
    return text


def _moment(text: str | None) -> datetime | None:
    """A timestamp as a datetime (None when missing or unreadable: tolerated, it orders
    nothing); one outside 1970–9999 is a provider failure."""
    instant = Instant.of(text)
    if instant is None:
        return None
    moment = instant.to_datetime()
    try:
        check_years(moment)
    except ValueError as error:
        raise InvalidResponse(mapping.PROVIDER, str(error)) from None
    return moment


def _newest(current: datetime | None, texts: Any) -> datetime | None:
    moments = [m for m in (_moment(t) for t in texts) if m is not None]
    return max([current, *moments] if current else moments, default=None)


def _since(state: Checkpoint) -> datetime | None:
    """Where the next incremental crawl of the step's list starts: the newest `updatedAt`
    read (or the last start, when nothing was), never later than this pass's start."""
    previous = state.contacts_since if state.step == "contacts" else state.sessions_since
    newest = state.newest or previous
    if newest is None or state.started is None:
        return newest
    return min(newest, state.started)


def _back(since: datetime | None) -> datetime | None:
    return since - OVERLAP if since is not None else None
