"""The Sessions crawler. Sessions allows 10 requests a minute per key, so everything is
read once into the index and then kept up to date with as few requests as possible.

Lists come 20 to a page in creation order, so what is new is at their end: the
checkpoint keeps, for the sessions and the bookings lists, how many items were read, and
a sync reads from the page holding the next one (the last, partial page is read again).
Each new session's participants are fetched once (one request per session), right after
the page that listed it, so the checkpoint holds at most one page's sessions still to
fetch, whatever the provider lists. A finished session's participants do not change, but
a recent or upcoming one's still can: every sync also re-checks the participants of up
to `RECHECK` sessions that started in the last day or start within 30 days, taking them
in turn (the checkpoint remembers where it stopped). A second sync on unchanged data
therefore costs at most 1 sessions page, 1 bookings page and `RECHECK` participants
lists: 7 requests.

Each step is committed with the checkpoint after it, so an interrupted crawl goes on
from the last committed step. A cancelled booking outranks a participants list (its
registration stays `cancelled` whatever a later re-check of the session shows).

What the provider answers is checked as it is decoded (`mapping.py`): a page of more than
20 items, or one bringing back items this pass already read where new ones were
expected, is a provider failure, not a crawl without end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any, cast
from urllib.parse import quote

import msgspec

from schema.records import ParticipantKey, ParticipantRecord, RegistrationRecord
from schema.scalars import Instant
from schema.source import ConnectionRecord
from server.providers.errors import InvalidResponse
from server.providers.http import ProviderHttp, decode
from server.providers.indexed import (
    IndexView,
    PersonIds,
    ProviderId,
    SeenItems,
    clip,
    read_checkpoint,
)
from server.providers.sessions import mapping
from server.store.index import Found

RECHECK = 5
RECENT = timedelta(days=1)
UPCOMING = timedelta(days=30)
PARTICIPANTS_LIST, BOOKING = 1, 2  # precedence: a booking outranks a participants list


class Checkpoint(msgspec.Struct):
    """Where a crawl stands: a few numbers and at most a page of ids, whatever the
    provider does (`pending`, the earlier form's list of every session still to fetch,
    is read to resume from it, never written)."""

    sessions: Annotated[int, msgspec.Meta(ge=0)] = 0  # sessions read, in list order
    bookings: Annotated[int, msgspec.Meta(ge=0)] = 0
    page: Annotated[list[ProviderId], msgspec.Meta(max_length=mapping.PAGE)] = []
    recheck_after: ProviderId | None = None
    pending: list[Any] = []

    def written(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "bookings": self.bookings,
            "page": list(self.page),
            "recheck_after": self.recheck_after,
        }


def resumed(raw: Any, connection: str) -> Checkpoint:
    state = read_checkpoint(raw, Checkpoint, connection) or Checkpoint()
    if state.pending:
        # The earlier form listed every session first, then fetched the participants of
        # those still pending: the last ones listed. List them again, page by page.
        state.sessions = max(state.sessions - len(state.pending), 0)
        state.pending = []
    return state


async def probe(http: ProviderHttp, connection: ConnectionRecord) -> None:
    """The first page of sessions: exactly one request of the key's 10 a minute (the
    lists have no smaller page, and no cheaper endpoint checks the key)."""
    await http.get("/api/sessions", cast(Any, mapping.ListBody), {"page": 1})


class SessionsCrawler:
    def __init__(
        self,
        http: ProviderHttp,
        connection: ConnectionRecord,
        index: IndexView,
        person_id: PersonIds,
    ) -> None:
        self._http = http
        self._connection = connection.public_id
        self._index = index
        self._person_id = person_id

    async def crawl(self, checkpoint: Any, now: datetime) -> AsyncIterator[Found]:
        state = resumed(checkpoint, self._connection)
        fetched: set[str] = set()
        async for found in self._pending(state, fetched):
            yield found
        async for found in self._sessions(state, fetched):
            yield found
        async for found in self._bookings(state):
            yield found
        async for found in self._recheck(state, now, fetched):
            yield found

    async def _list(self, path: str, number: int, into: type[Any]) -> list[Any]:
        body = await self._http.get(path, cast(Any, mapping.ListBody), {"page": number})
        raw = mapping.items(body)
        if len(raw) > mapping.PAGE:
            raise InvalidResponse(
                mapping.PROVIDER, f"{len(raw)} items on a page of {path}, not {mapping.PAGE}"
            )
        return [decode(mapping.PROVIDER, item, into) for item in raw]

    async def _pending(self, state: Checkpoint, fetched: set[str]) -> AsyncIterator[Found]:
        """The participants of the sessions on the last page listed, one at a time."""
        created = await self._index.sessions(state.page)
        while state.page:
            session_id = state.page[0]
            record = created.get(session_id)
            found = await self._participants(session_id, record.created_at if record else None)
            fetched.add(session_id)
            state.page = state.page[1:]
            yield Found(found.participants, (), found.registrations, state.written())

    async def _sessions(self, state: Checkpoint, fetched: set[str]) -> AsyncIterator[Found]:
        seen = SeenItems(mapping.PROVIDER, "sessions")
        while True:
            read = state.sessions
            page = await self._list("/api/sessions", read // mapping.PAGE + 1, mapping.Session)
            new = page[read % mapping.PAGE :]
            seen.add([s.id for s in new])
            state.sessions, state.page = read + len(new), [s.id for s in new]
            yield Found(
                sessions=[mapping.activity_session(s) for s in new], checkpoint=state.written()
            )
            async for found in self._pending(state, fetched):
                yield found
            if len(page) < mapping.PAGE or not new:
                return

    async def _bookings(self, state: Checkpoint) -> AsyncIterator[Found]:
        seen = SeenItems(mapping.PROVIDER, "bookings")
        while True:
            read = state.bookings
            page = await self._list("/api/bookings", read // mapping.PAGE + 1, mapping.Booking)
            new = page[read % mapping.PAGE :]
            seen.add([b.id for b in new])
            created = await self._index.sessions([b.session_id for b in new if b.session_id])
            participants, registrations = [], []
            for booking in new:
                if not booking.session_id:
                    continue
                session = created.get(booking.session_id)
                # The booker's registration stands or falls with the booking; the guests it
                # brings are registered by it only while it stands (a cancelled booking
                # leaves them to the session's participants list).
                people = [(booking.participant_email, booking.participant_name, BOOKING)]
                if not booking.cancelled:
                    people += [(guest, None, PARTICIPANTS_LIST) for guest in booking.guests]
                for email, name, precedence in people:
                    person = self._person(email, name, session.created_at if session else None)
                    if person is None:
                        continue
                    participants.append(person)
                    registrations.append(
                        (
                            person.key.provider_id,
                            mapping.registration(
                                booking.session_id,
                                person.key.provider_id,
                                booking.cancelled,
                                session.created_at if session else None,
                            ),
                            precedence,
                        )
                    )
            state.bookings = read + len(new)
            yield Found(participants, (), registrations, state.written())
            if len(page) < mapping.PAGE or not new:
                return

    async def _participants(self, session_id: str, created: Instant | None) -> Found:
        body = await self._http.get(
            f"/api/sessions/{quote(session_id, safe='')}/participants",
            cast(Any, mapping.ListBody),
        )
        participants: list[ParticipantRecord] = []
        registrations: list[tuple[str, RegistrationRecord, int]] = []
        for raw in mapping.items(body):
            entry = decode(mapping.PROVIDER, raw, mapping.Participant).person()
            person = self._person(entry.email, entry.name(), created) if entry else None
            if person is None:
                continue
            participants.append(person)
            registration = mapping.registration(session_id, person.key.provider_id, False, created)
            registrations.append((person.key.provider_id, registration, PARTICIPANTS_LIST))
        return Found(participants, (), registrations)

    async def _recheck(
        self, state: Checkpoint, now: datetime, fetched: set[str]
    ) -> AsyncIterator[Found]:
        candidates = await self._index.sessions_starting_between(
            Instant.at(now - RECENT), Instant.at(now + UPCOMING)
        )
        candidates = [c for c in candidates if c not in fetched]
        if not candidates:
            return
        after = state.recheck_after
        start = candidates.index(after) + 1 if after in candidates else 0
        turn = (candidates[start:] + candidates[:start])[:RECHECK]
        sessions = await self._index.sessions(turn)
        for session_id in turn:
            record = sessions.get(session_id)
            found = await self._participants(session_id, record.created_at if record else None)
            state.recheck_after = session_id
            yield Found(found.participants, (), found.registrations, state.written())

    def _person(
        self, email: str | None, name: str | None, seen_at: Instant | None
    ) -> ParticipantRecord | None:
        """A person, known by their email; nobody without one."""
        if not email or not email.strip():
            return None
        return ParticipantRecord(
            key=ParticipantKey(self._connection, self._person_id(email)),
            name=clip(name),
            email=email.strip(),
            created_at=seen_at,
            provider=mapping.PROVIDER,
        )
