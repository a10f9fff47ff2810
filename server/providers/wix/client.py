"""The Wix adapter: Contacts, Email Marketing, Bookings and eCommerce over httpx.

Wix authenticates with the raw API key (no `Bearer`) plus the site id header. Every batch
method asks for a whole page of participants at once (`$in` on their ids or emails), so a
page of participants costs one call per relation per Wix page, never one per person.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import httpx

from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantRecord,
    PurchaseRecord,
    RegistrationRecord,
)
from server.providers.base import ProviderError, ProviderPage, json_object, provider_errors
from server.providers.retries import with_retries
from server.providers.wix import mapping

BOOKINGS_PAGE = 100  # Extended Bookings' maximum page size
ORDERS_PAGE = 100  # Search Orders' maximum page size
SUBSCRIPTIONS_PAGE = 1000
IN_FILTER_MAX = 100  # the most values one `$in` filter takes


def _chunks(values: Sequence[str], size: int = IN_FILTER_MAX) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _next_cursor(block: Any) -> str | None:
    """Wix omits `hasNext` and `cursors.next` on the last page."""
    if not isinstance(block, dict) or not block.get("hasNext"):
        return None
    cursor = (block.get("cursors") or {}).get("next")
    return cursor if isinstance(cursor, str) and cursor else None


class WixAdapter:
    kind = mapping.KIND

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        timeout_seconds: float = 10.0,
        connection: str,
        base_url: str,
        site_id: str,
        api_key: str,
    ) -> None:
        self.connection = connection
        self._http = http
        self._timeout = timeout_seconds
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": api_key, "wix-site-id": site_id}

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return await with_retries(lambda: self._call_once(method, path, body))

    async def _call_once(self, method: str, path: str, body: Any) -> dict[str, Any]:
        # A total deadline per call: httpx's own timeouts are per read, so a provider
        # trickling bytes could otherwise hold a request open for ever.
        with provider_errors(self.kind):
            async with asyncio.timeout(self._timeout):
                response = await self._http.request(
                    method, self._base_url + path, json=body, headers=self._headers
                )
                return json_object(response)

    async def _cursor_pages(
        self,
        path: str,
        items_key: str,
        first_body: dict[str, Any],
        *,
        wrapper: str,
        page_block: str,
    ) -> list[dict[str, Any]]:
        """Follow a cursor-paged query to its end; later pages send only the cursor."""
        items: list[dict[str, Any]] = []
        body = {wrapper: first_body}
        while True:
            page = await self._call("POST", path, body)
            items.extend(page.get(items_key) or [])
            cursor = _next_cursor(page.get(page_block))
            if cursor is None:
                return items
            limit = first_body["cursorPaging"]["limit"]
            body = {wrapper: {"cursorPaging": {"limit": limit, "cursor": cursor}}}

    async def list_participants(
        self, *, cursor: str | None, limit: int
    ) -> ProviderPage[ParticipantRecord]:
        query: dict[str, Any] = {"cursorPaging": {"limit": limit}}
        if cursor is None:
            query["sort"] = [{"fieldName": "createdDate", "order": "ASC"}]
        else:
            query["cursorPaging"]["cursor"] = cursor
        page = await self._call("POST", "/contacts/v4/contacts/query", {"query": query})
        with provider_errors(self.kind):
            contacts = tuple(
                mapping.participant(self.connection, c) for c in page.get("contacts") or []
            )
        return ProviderPage(contacts, _next_cursor(page.get("pagingMetadata")))

    async def participants_by_id(self, ids: Sequence[str]) -> dict[str, ParticipantRecord]:
        found: dict[str, ParticipantRecord] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            query = {"filter": {"id": {"$in": list(chunk)}}, "cursorPaging": {"limit": len(chunk)}}
            page = await self._call("POST", "/contacts/v4/contacts/query", {"query": query})
            with provider_errors(self.kind):
                for contact in page.get("contacts") or []:
                    record = mapping.participant(self.connection, contact)
                    found[record.key.provider_id] = record
        return found

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None]:
        emails = list(dict.fromkeys(p.email.lower() for p in participants if p.email))
        by_email: dict[str, ConsentRecord] = {}
        for chunk in _chunks(emails):
            offset = 0
            while True:
                body = {
                    "filter": {"email": {"$in": list(chunk)}},
                    "paging": {"limit": SUBSCRIPTIONS_PAGE, "offset": offset},
                }
                page = await self._call(
                    "POST", "/email-marketing/v1/email-subscriptions/query", body
                )
                subscriptions = page.get("subscriptions") or []
                with provider_errors(self.kind):
                    for subscription in subscriptions:
                        by_email[str(subscription["email"]).lower()] = mapping.consent(subscription)
                total = (page.get("metadata") or {}).get("total", 0)
                offset += len(subscriptions)
                if not subscriptions or offset >= total:
                    break
        return [
            by_email.get(p.email.lower(), ConsentRecord("unknown", None)) if p.email else None
            for p in participants
        ]

    async def _for_contacts(
        self,
        participants: Sequence[ParticipantRecord],
        path: str,
        items_key: str,
        contact_field: str,
        limit: int,
        *,
        wrapper: str,
        page_block: str,
    ) -> list[dict[str, Any]]:
        """Every item of a cursor-paged query filtered to these participants' contact ids:
        one call per page of results, per hundred participants."""
        items: list[dict[str, Any]] = []
        for chunk in _chunks([p.key.provider_id for p in participants]):
            query = {
                "filter": {contact_field: {"$in": list(chunk)}},
                "cursorPaging": {"limit": limit},
            }
            items += await self._cursor_pages(
                path, items_key, query, wrapper=wrapper, page_block=page_block
            )
        return items

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord]]:
        bookings = await self._for_contacts(
            participants,
            "/_api/bookings-reader/v2/extended-bookings/query",
            "extendedBookings",
            "contactDetails.contactId",
            BOOKINGS_PAGE,
            wrapper="query",
            page_block="pagingMetadata",
        )
        by_contact: dict[str, list[RegistrationRecord]] = defaultdict(list)
        with provider_errors(self.kind):
            for item in bookings:
                booking = item.get("booking") or {}
                record = mapping.registration(booking)
                contact = (booking.get("contactDetails") or {}).get("contactId")
                if record is not None and contact:
                    by_contact[str(contact)].append(record)
        return [by_contact.get(p.key.provider_id, []) for p in participants]

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord]]:
        orders = await self._for_contacts(
            participants,
            "/ecom/v1/orders/search",
            "orders",
            "buyerInfo.contactId",
            ORDERS_PAGE,
            wrapper="search",
            page_block="metadata",
        )
        by_contact: dict[str, list[PurchaseRecord]] = defaultdict(list)
        with provider_errors(self.kind):
            for order in orders:
                contact = (order.get("buyerInfo") or {}).get("contactId")
                if contact:
                    by_contact[str(contact)].extend(mapping.purchases(order))
        return [by_contact.get(p.key.provider_id, []) for p in participants]

    async def activity_sessions(self, ids: Sequence[str]) -> dict[str, ActivitySessionRecord]:
        """Wix has no batch lookup by id, so one Get Session per distinct id, concurrently."""

        async def get(session_id: str) -> ActivitySessionRecord | None:
            try:
                body = await self._call("GET", f"/bookings/v2/calendar/sessions/{session_id}")
            except ProviderError as error:
                if error.status == 404:
                    return None
                raise
            with provider_errors(self.kind):
                return mapping.activity_session(body["session"])

        unique = list(dict.fromkeys(ids))
        records = await asyncio.gather(*(get(i) for i in unique))
        return {i: r for i, r in zip(unique, records, strict=True) if r is not None}
