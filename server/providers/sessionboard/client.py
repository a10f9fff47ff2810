"""The Sessionboard adapter: an organisation's contacts, and the sessions of its events.

Participants are the organisation's contacts, paged 100 at a time (`page`/`pageSize`); a
position is a page and an index in it. Registrations are the (session, contact) pairs in
which a contact is a participant or a speaker. Sessionboard has no lookup of a contact's
sessions across events, so every event's sessions are read once and inverted by contact,
and the inversion is kept for a short time (Sessionboard caches session reads itself for
up to three minutes): a page of N participants costs the contacts page plus the events
list and each event's session pages, whatever N is, and the next pages only their
contacts call. Sessionboard records no consent and sells nothing: those answer empty,
with no call.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from schema.errors import BadUserInput
from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantRecord,
    PurchaseRecord,
    RegistrationRecord,
)
from schema.source import ConnectionRecord
from server.providers.base import Listed
from server.providers.errors import InvalidResponse, ProviderNotFound
from server.providers.http import PagingGuard, ProviderHttp
from server.providers.sessionboard import mapping

PAGE_SIZE = 100  # Sessionboard's largest page
LAST_PAGE = 999  # and its last page number
CONTACT_ORDER = {"sort": {"order": "createdAt", "sort": "asc"}}

Page = TypeVar("Page", mapping.EventsPage, mapping.SessionsPage)


def contacts_path(organization: str) -> str:
    return f"/v1/organization/{quote(organization, safe='')}/contacts"


async def probe(http: ProviderHttp, connection: ConnectionRecord) -> None:
    """The organisation's contacts, one to a page: the token, its `read:contacts` scope
    and the organisation id checked in the smallest list call there is."""
    await http.post(
        contacts_path(connection.account_id),
        CONTACT_ORDER,
        mapping.ContactsPage,
        params={"page": 1, "pageSize": 1},
    )


def _position(page: int, index: int) -> str:
    return json.dumps([page, index])


def _page_and_index(position: str | None) -> tuple[int, int]:
    if position is None:
        return 1, 0
    try:
        page, index = json.loads(position)
    except (ValueError, TypeError):
        page, index = 0, -1
    if type(page) is int and type(index) is int and 1 <= page <= LAST_PAGE and index >= 0:
        return page, index
    raise BadUserInput("The `after` cursor is not valid for this list.")


@dataclass(frozen=True)
class Sessions:
    """Every session of the organisation's events: registrations by contact id, and the
    sessions by key."""

    by_contact: dict[str, list[RegistrationRecord]]
    sessions: dict[str, ActivitySessionRecord]


class SessionboardAdapter:
    provider = mapping.PROVIDER

    def __init__(self, http: ProviderHttp, *, connection: str, organization: str) -> None:
        self.connection = connection
        self._http = http
        self._contacts_path = contacts_path(organization)
        self._sessions: tuple[float, Sessions] | None = None
        self._reading: asyncio.Task[Sessions] | None = None

    async def list_participants(self, *, position: str | None, limit: int) -> Listed:
        page, index = _page_and_index(position)
        answer = await self._http.post(
            self._contacts_path,
            CONTACT_ORDER,
            mapping.ContactsPage,
            params={"page": page, "pageSize": PAGE_SIZE},
        )
        contacts = answer.items()
        more = answer.more_pages() and page < LAST_PAGE
        listed = []
        for at, contact in enumerate(contacts[index : index + limit], start=index + 1):
            if at < len(contacts):
                after: str | None = _position(page, at)
            else:
                after = _position(page + 1, 0) if more else None
            listed.append((mapping.participant(self.connection, contact), after))
        if listed:
            return Listed(tuple(listed), listed[-1][1])
        return Listed((), _position(page + 1, 0) if more and contacts else None)

    async def participants_by_id(self, ids: Sequence[str]) -> dict[str, ParticipantRecord]:
        """No lookup by id: the contacts are paged until every id is found (bounded)."""
        wanted, found = set(ids), dict[str, ParticipantRecord]()
        guard = PagingGuard(self.provider, self._http.limits.max_pages)
        page = 1
        while wanted - found.keys():
            answer = await self._http.post(
                self._contacts_path,
                CONTACT_ORDER,
                mapping.ContactsPage,
                params={"page": page, "pageSize": PAGE_SIZE},
            )
            for contact in answer.items():
                if str(contact.id) in wanted:
                    found[str(contact.id)] = mapping.participant(self.connection, contact)
            if not answer.more_pages():
                break
            page += 1
            guard.more(page, len(answer.items()))
        return found

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None]:
        return [None] * len(participants)

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord]]:
        return [[] for _ in participants]

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord]]:
        sessions = await self._all_sessions()
        return [sessions.by_contact.get(p.key.provider_id, []) for p in participants]

    async def activity_sessions(self, ids: Sequence[str]) -> dict[str, ActivitySessionRecord]:
        async def get(key: str) -> ActivitySessionRecord | None:
            event, _, session = key.partition("/")
            if not event or not session:
                return None
            path = f"/v1/event/{quote(event, safe='')}/sessions/{quote(session, safe='')}"
            try:
                found = await self._http.get(path, mapping.Session)
            except ProviderNotFound:
                return None
            return mapping.activity_session(event, found)

        unique = list(dict.fromkeys(ids))
        records = await asyncio.gather(*(get(key) for key in unique))
        return {key: r for key, r in zip(unique, records, strict=True) if r is not None}

    async def _all_sessions(self) -> Sessions:
        """The inversion, read again once it is older than the cache time. Concurrent
        readers share one read."""
        cached = self._sessions
        if cached is not None and time.monotonic() - cached[0] < self._http.limits.cache_seconds:
            return cached[1]
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read_sessions())
            self._reading.add_done_callback(lambda _: setattr(self, "_reading", None))
        return await asyncio.shield(self._reading)

    async def _read_sessions(self) -> Sessions:
        events = await self._pages("/v1/events", mapping.EventsPage, "GET")
        per_event = await asyncio.gather(
            *(
                self._pages(
                    f"/v1/event/{quote(str(event.id), safe='')}/sessions",
                    mapping.SessionsPage,
                    "POST",
                )
                for event in events
            )
        )
        by_contact: dict[str, list[RegistrationRecord]] = defaultdict(list)
        sessions: dict[str, ActivitySessionRecord] = {}
        for event, event_sessions in zip(events, per_event, strict=True):
            for session in event_sessions:
                record = mapping.activity_session(event.id, session)
                sessions[record.provider_id] = record
                people = {str(p.id) for p in (*session.participants, *session.speakers)}
                for contact in sorted(people):  # a speaker who also takes part: once
                    registration = mapping.registration(event.id, session, contact)
                    if registration is not None:
                        by_contact[contact].append(registration)
        found = Sessions(dict(by_contact), sessions)
        self._sessions = (time.monotonic(), found)
        return found

    async def _pages(self, path: str, page_type: type[Page], method: str) -> list[Any]:
        """Every item of a paged list: the first page, then the rest at once."""

        async def page(number: int) -> Page:
            params = {"page": number, "pageSize": PAGE_SIZE}
            if method == "POST":
                return await self._http.post(path, {}, page_type, params=params)
            return await self._http.get(path, page_type, params=params)

        first = await page(1)
        total = min(first.pagination.total_pages if first.pagination else 1, LAST_PAGE)
        if total > self._http.limits.max_pages:
            raise InvalidResponse(self.provider, f"{path} has {total} pages")
        answers: list[Page] = [first]
        answers += await asyncio.gather(*(page(n) for n in range(2, total + 1)))
        return [item for answer in answers for item in answer.items()]
