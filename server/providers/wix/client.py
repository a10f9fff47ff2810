"""The Wix adapter: Contacts, Email Marketing, Bookings and eCommerce.

Wix authenticates with the raw API key (no `Bearer`) plus the site id header. Every batch
method asks for a whole page of participants at once (`$in` on their ids or emails), so a
page of participants costs one call per relation per Wix page, never one per person.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
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
from server.providers.wix import mapping

BOOKINGS_PAGE = 100  # Extended Bookings' maximum page size
ORDERS_PAGE = 100  # Search Orders' maximum page size
SUBSCRIPTIONS_PAGE = 1000
IN_FILTER_MAX = 100  # the most values one `$in` filter takes

P = TypeVar("P", mapping.BookingsPage, mapping.OrdersPage)
Item = TypeVar("Item")


def _position(cursor: str | None, skip: int) -> str:
    return json.dumps([cursor, skip], separators=(",", ":"))


def _cursor_and_skip(position: str | None) -> tuple[str | None, int]:
    """A position this adapter wrote. Cursors are signed, so anything else is a cursor
    from another version of the server: refused, never read as a different place."""
    if position is None:
        return None, 0
    try:
        cursor, skip = json.loads(position)
    except (ValueError, TypeError):
        cursor, skip = 0, -1
    if (cursor is None or isinstance(cursor, str)) and type(skip) is int and skip >= 0:
        return cursor, skip
    raise BadUserInput("The `after` cursor is not valid for this list.")


async def probe(http: ProviderHttp, connection: ConnectionRecord) -> None:
    """One contacts query for one contact: the key and the site id both checked, for
    the price of the smallest read the adapter makes."""
    query = {"query": {"cursorPaging": {"limit": 1}}}
    await http.post("/contacts/v4/contacts/query", query, mapping.ContactsPage)


def _chunks(values: Sequence[str], size: int = IN_FILTER_MAX) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class WixAdapter:
    provider = mapping.PROVIDER

    def __init__(self, http: ProviderHttp, *, connection: str) -> None:
        self.connection = connection
        self._http = http
        # Items per contact of the last batch of each query, to size the next one's chunks.
        self._density: dict[str, float] = {}

    def _guard(self) -> PagingGuard:
        return PagingGuard(self.provider, self._http.limits.max_pages)

    async def list_participants(self, *, position: str | None, limit: int) -> Listed:
        """A position is a Wix contacts cursor (None: the first page) and how many of that
        page's contacts were already listed."""
        cursor, skip = _cursor_and_skip(position)
        query: dict[str, Any] = {"cursorPaging": {"limit": skip + limit}}
        if cursor is None:
            query["sort"] = [{"fieldName": "createdDate", "order": "ASC"}]
        else:
            query["cursorPaging"]["cursor"] = cursor
        page = await self._http.post(
            "/contacts/v4/contacts/query", {"query": query}, mapping.ContactsPage
        )
        next_cursor = page.paging_metadata.next_cursor() if page.paging_metadata else None
        if next_cursor is not None and (not page.contacts or next_cursor == cursor):
            raise InvalidResponse(self.provider, "a contacts page claims more but cannot move on")
        contacts = page.contacts[skip : skip + limit]
        listed = []
        for offset, contact in enumerate(contacts, start=skip + 1):
            if offset < len(page.contacts):
                after: str | None = _position(cursor, offset)
            else:
                after = _position(next_cursor, 0) if next_cursor else None
            listed.append((mapping.participant(self.connection, contact), after))
        if listed:
            return Listed(tuple(listed), listed[-1][1])
        return Listed((), _position(next_cursor, 0) if next_cursor else None)

    async def participants_by_id(self, ids: Sequence[str]) -> dict[str, ParticipantRecord]:
        found: dict[str, ParticipantRecord] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            query = {"filter": {"id": {"$in": list(chunk)}}, "cursorPaging": {"limit": len(chunk)}}
            page = await self._http.post(
                "/contacts/v4/contacts/query", {"query": query}, mapping.ContactsPage
            )
            for contact in page.contacts:
                record = mapping.participant(self.connection, contact)
                found[record.key.provider_id] = record
        return found

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None]:
        by_email = await self.consents_by_email(p.email for p in participants if p.email)
        return [mapping.consent_of(p, by_email) for p in participants]

    async def consents_by_email(self, emails: Iterable[str]) -> dict[str, ConsentRecord]:
        """The consent of each address that has an email subscription, by lowercased
        address: one call per hundred addresses (and per thousand subscriptions)."""
        wanted = list(dict.fromkeys(email.lower() for email in emails))
        by_email: dict[str, ConsentRecord] = {}
        for chunk in _chunks(wanted):
            guard, offset = self._guard(), 0
            while True:
                body = {
                    "filter": {"email": {"$in": list(chunk)}},
                    "paging": {"limit": SUBSCRIPTIONS_PAGE, "offset": offset},
                }
                page = await self._http.post(
                    "/email-marketing/v1/email-subscriptions/query", body, mapping.SubscriptionsPage
                )
                for subscription in page.subscriptions:
                    by_email[subscription.email.lower()] = mapping.consent(subscription)
                offset += len(page.subscriptions)
                total = page.metadata.total if page.metadata else 0
                if offset >= total:
                    break
                guard.more(offset, len(page.subscriptions))
        return by_email

    async def _for_contacts(
        self,
        participants: Sequence[ParticipantRecord],
        path: str,
        wrapper: str,
        contact_field: str,
        limit: int,
        page_type: type[P],
        items: Callable[[P], list[Item]],
    ) -> list[Item]:
        """Every item of a cursor-paged query filtered to these participants' contact ids.

        The ids go in chunks sized so that each chunk's items fit one page, by the items
        per contact this connection showed last time (a page of participants of a studio
        with ten bookings each: chunks of ten contacts), and the chunks are asked for at
        once: one round trip where following cursors would take one per page. A chunk
        that overflows follows its cursor (later pages send only the cursor, as Wix asks).
        """
        ids = list(dict.fromkeys(p.key.provider_id for p in participants))
        if not ids:
            return []
        size = self._chunk_size(path, limit)
        chunks = await asyncio.gather(
            *(
                self._pages(path, wrapper, contact_field, limit, page_type, items, chunk)
                for chunk in _chunks(ids, size)
            )
        )
        found = [item for chunk in chunks for item in chunk]
        self._density[path] = len(found) / len(ids)
        return found

    def _chunk_size(self, path: str, limit: int) -> int:
        density = self._density.get(path)
        if not density:  # nothing seen yet, or no items at all: the widest filter
            return IN_FILTER_MAX
        return max(1, min(IN_FILTER_MAX, limit // math.ceil(density)))

    async def _pages(
        self,
        path: str,
        wrapper: str,
        contact_field: str,
        limit: int,
        page_type: type[P],
        items: Callable[[P], list[Item]],
        chunk: Sequence[str],
    ) -> list[Item]:
        guard = self._guard()
        query: dict[str, Any] = {
            "filter": {contact_field: {"$in": list(chunk)}},
            "cursorPaging": {"limit": limit},
        }
        found: list[Item] = []
        while True:
            page = await self._http.post(path, {wrapper: query}, page_type)
            found += items(page)
            block = (
                page.paging_metadata if isinstance(page, mapping.BookingsPage) else page.metadata
            )
            cursor = block.next_cursor() if block else None
            if cursor is None:
                return found
            guard.more(cursor, len(items(page)))
            query = {"cursorPaging": {"limit": limit, "cursor": cursor}}

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord]]:
        bookings = await self._for_contacts(
            participants,
            "/_api/bookings-reader/v2/extended-bookings/query",
            "query",
            "contactDetails.contactId",
            BOOKINGS_PAGE,
            mapping.BookingsPage,
            lambda page: [item.booking for item in page.extended_bookings if item.booking],
        )
        by_contact: dict[str, list[RegistrationRecord]] = defaultdict(list)
        for booking in bookings:
            record = mapping.registration(booking)
            contact = mapping.booking_contact(booking)
            if record is not None and contact:
                by_contact[contact].append(record)
        return [by_contact.get(p.key.provider_id, []) for p in participants]

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord]]:
        orders = await self._for_contacts(
            participants,
            "/ecom/v1/orders/search",
            "search",
            "buyerInfo.contactId",
            ORDERS_PAGE,
            mapping.OrdersPage,
            lambda page: page.orders,
        )
        by_contact: dict[str, list[PurchaseRecord]] = defaultdict(list)
        for order in orders:
            contact = mapping.order_contact(order)
            if contact:
                by_contact[contact].extend(mapping.purchases(order))
        return [by_contact.get(p.key.provider_id, []) for p in participants]

    async def activity_sessions(self, ids: Sequence[str]) -> dict[str, ActivitySessionRecord]:
        """Wix has no batch lookup by id, so one Get Session per distinct id, concurrently."""

        async def get(session_id: str) -> ActivitySessionRecord | None:
            try:
                envelope = await self._http.get(
                    f"/bookings/v2/calendar/sessions/{quote(session_id, safe='')}",
                    mapping.SessionEnvelope,
                )
            except ProviderNotFound:
                return None
            return mapping.activity_session(envelope.session)

        unique = list(dict.fromkeys(ids))
        records = await asyncio.gather(*(get(i) for i in unique))
        return {i: r for i, r in zip(unique, records, strict=True) if r is not None}
