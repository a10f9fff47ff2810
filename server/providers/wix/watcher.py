"""What changed at a Wix site since a watermark (`server/providers/watched.py`).

Four sources say when their records last changed: contacts, email subscriptions,
bookings and orders, each queried by `updatedDate` ascending, so a page read is a
watermark reached: the source's mark is the newest `updatedDate` read, and the next pass
asks for what is newer than the mark minus `OVERLAP`. The records are mapped by the
adapter's own functions (`mapping.py`, `WixAdapter`), so a Seen's fields and ids are the
ones a query returns.

A contact is a participant, with the consent of its address (looked up a hundred
addresses a call); a subscription that changed is the participant of each contact with
that address (looked up the same way); a booking is a registration and an order's line
items are purchases, of contacts that exist, as the adapter lists them.

Unchanged costs one request a source: the records re-read in the overlap are those the
mark remembers (`recent`: their ids and `updatedDate`s), so nothing is looked up for them
and nothing is yielded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec

from schema.scalars import Instant
from server.changes.events import Kind
from server.changes.fields import participant_fields, purchase_fields, registration_fields
from server.providers.errors import InvalidResponse
from server.providers.http import PagingGuard, ProviderHttp
from server.providers.indexed import read_checkpoint
from server.providers.watched import Seen, Watched
from server.providers.wix import mapping
from server.providers.wix.client import (
    BOOKINGS_PAGE,
    IN_FILTER_MAX,
    ORDERS_PAGE,
    SUBSCRIPTIONS_PAGE,
    WixAdapter,
)

# A record written just before the previous pass may reach Wix's query index after it
# (search indexes lag their writes, and Wix's hosts stamp `updatedDate` with their own
# clocks), so each pass reads again from two minutes before its mark. That is far more
# than an index's usual lag and costs nothing: the re-read records are the ones the mark
# remembers, skipped unread; one the mark does not know (or knows at another
# `updatedDate`) is yielded, and if it did not change its fingerprint matches: no event.
OVERLAP = timedelta(minutes=2)
CONTACTS_PAGE = 1000  # Query Contacts' maximum page size
MAX_PAGES = 10_000  # ten million contacts a pass: past that, the provider pages for ever
RECENT_MAX = 1000  # the most records a mark remembers (more only costs lookups, not events)
BY_UPDATE = [{"fieldName": "updatedDate", "order": "ASC"}]
CONTACTS = "contacts"
SUBSCRIPTIONS = "subscriptions"
BOOKINGS = "bookings"
ORDERS = "orders"
SOURCES = (CONTACTS, SUBSCRIPTIONS, BOOKINGS, ORDERS)

Row = TypeVar("Row")
Page = TypeVar("Page")


class _WrittenMark(msgspec.Struct):
    at: str | None = None
    recent: dict[str, str] = {}


@dataclass
class Mark:
    """Where one source stands: the newest `updatedDate` read, and the records read
    within `OVERLAP` of it (id → `updatedDate`)."""

    at: datetime | None = None
    recent: dict[str, str] = field(default_factory=dict)

    def since(self) -> Instant | None:
        """The lower bound of the next query (exclusive)."""
        return Instant.at(self.at - OVERLAP) if self.at else None

    def knows(self, key: str | None, updated: Instant | None) -> bool:
        return key is not None and updated is not None and self.recent.get(key) == updated

    def read(self, key: str | None, updated: Instant | None) -> None:
        if updated is None:  # never matched by an `updatedDate` filter: full passes only
            return
        moment = updated.to_datetime()
        if self.at is None or moment > self.at:
            self.at = moment
        if key is not None:  # a record without an id is read again, never remembered
            self.recent[key] = str(updated)

    def trim(self) -> None:
        if self.at is None:
            return
        floor = self.at - OVERLAP
        kept = sorted(
            ((Instant(at).to_datetime(), key, at) for key, at in self.recent.items()),
            reverse=True,
        )
        self.recent = {key: at for moment, key, at in kept[:RECENT_MAX] if moment > floor}

    def written(self) -> dict[str, Any]:
        """Plain JSON, for the store."""
        return {"at": str(Instant.at(self.at)) if self.at else None, "recent": dict(self.recent)}


def read_watermark(raw: Any, connection: str) -> dict[str, Mark]:
    """A watermark this watcher wrote; one it cannot read is read as none (every source
    from its start: records re-read match their fingerprints)."""
    written = read_checkpoint(raw, dict[str, _WrittenMark], connection) or {}
    marks = {}
    for source in SOURCES:
        mark = written.get(source)
        at = Instant.of(mark.at) if mark and mark.at else None
        recent = {k: v for k, v in (mark.recent if mark else {}).items() if Instant.of(v) == v}
        marks[source] = Mark(at.to_datetime() if at else None, recent)
    return marks


def written(marks: dict[str, Mark]) -> dict[str, Any]:
    return {source: marks[source].written() for source in SOURCES}


def _updated(value: str | None) -> Instant | None:
    return Instant.of(value) if value else None


def _moment(value: str | None) -> datetime | None:
    instant = _updated(value)
    return instant.to_datetime() if instant else None


def _chunks(values: Sequence[str], size: int = IN_FILTER_MAX) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _checked(what: str, keys: Sequence[str], limit: int) -> None:
    """A page is at most its limit, with no record twice."""
    if len(keys) > limit:
        raise InvalidResponse(mapping.PROVIDER, f"{len(keys)} {what} on a page of {limit}")
    if len(set(keys)) != len(keys):
        raise InvalidResponse(mapping.PROVIDER, f"a page of {what} lists a record twice")


@dataclass(frozen=True)
class _Listing(Generic[Page, Row]):
    """A cursor-paged Wix query: its path, the body's wrapper, its page size, and how
    rows and the paging block are read from a page."""

    what: str
    path: str
    wrapper: str
    limit: int
    into: type[Page]
    rows: Callable[[Page], list[Row]]
    block: Callable[[Page], mapping.PagingMetadata | None]
    key: Callable[[Row], str]


_CONTACTS: _Listing[mapping.ContactsPage, mapping.Contact] = _Listing(
    "contacts",
    "/contacts/v4/contacts/query",
    "query",
    CONTACTS_PAGE,
    mapping.ContactsPage,
    lambda page: page.contacts,
    lambda page: page.paging_metadata,
    lambda contact: contact.id,
)
_BOOKINGS: _Listing[mapping.BookingsPage, mapping.Booking] = _Listing(
    "bookings",
    "/_api/bookings-reader/v2/extended-bookings/query",
    "query",
    BOOKINGS_PAGE,
    mapping.BookingsPage,
    lambda page: [item.booking for item in page.extended_bookings if item.booking],
    lambda page: page.paging_metadata,
    lambda booking: booking.id,
)
_ORDERS: _Listing[mapping.OrdersPage, mapping.Order] = _Listing(
    "orders",
    "/ecom/v1/orders/search",
    "search",
    ORDERS_PAGE,
    mapping.OrdersPage,
    lambda page: page.orders,
    lambda page: page.metadata,
    lambda order: order.id,
)
SUBSCRIPTIONS_PATH = "/email-marketing/v1/email-subscriptions/query"


def _since(bound: Instant | None) -> dict[str, Any] | None:
    return {"updatedDate": {"$gt": str(bound)}} if bound else None


class WixWatcher:
    def __init__(self, http: ProviderHttp, connection: str) -> None:
        self._http = http
        self._connection = connection
        self._adapter = WixAdapter(http, connection=connection)

    def changed_since(self, watermark: Any) -> AsyncIterator[Watched]:
        return _Pass(self, read_watermark(watermark, self._connection), full=False).run()

    def everything(self) -> AsyncIterator[Watched]:
        return _Pass(self, {source: Mark() for source in SOURCES}, full=True).run()

    # ------------------------------------------------------------ reading Wix

    async def pages(
        self, listing: _Listing[Page, Row], filter_: dict[str, Any] | None, sort: bool = True
    ) -> AsyncIterator[list[Row]]:
        """Every page of a cursor-paged query; later pages send only the cursor."""
        query: dict[str, Any] = {"cursorPaging": {"limit": listing.limit}}
        if sort:
            query["sort"] = BY_UPDATE
        if filter_:
            query["filter"] = filter_
        guard = PagingGuard(mapping.PROVIDER, MAX_PAGES)
        while True:
            page = await self._http.post(listing.path, {listing.wrapper: query}, listing.into)
            rows = listing.rows(page)
            _checked(listing.what, [listing.key(row) for row in rows], listing.limit)
            block = listing.block(page)
            cursor = block.next_cursor() if block else None
            yield rows
            if cursor is None:
                return
            guard.more(cursor, len(rows))
            query = {"cursorPaging": {"limit": listing.limit, "cursor": cursor}}

    async def subscription_pages(
        self, since: Instant | None
    ) -> AsyncIterator[list[mapping.Subscription]]:
        """Every subscription changed after `since`, by `updatedDate`. The endpoint pages
        by offset, which a subscription changing meanwhile would shift past unread ones,
        so each page starts at the last page's newest `updatedDate` (`$gte`), skipping by
        offset only the ones read at exactly that moment."""
        guard = PagingGuard(mapping.PROVIDER, MAX_PAGES)
        bound, operator, ties = since, "$gt", 0
        while True:
            body: dict[str, Any] = {
                "sort": BY_UPDATE,
                "paging": {"limit": SUBSCRIPTIONS_PAGE, "offset": ties},
            }
            if bound:
                body["filter"] = {"updatedDate": {operator: str(bound)}}
            page = await self._http.post(SUBSCRIPTIONS_PATH, body, mapping.SubscriptionsPage)
            rows = page.subscriptions
            _checked("subscriptions", [s.email.lower() for s in rows], SUBSCRIPTIONS_PAGE)
            yield rows
            total = page.metadata.total if page.metadata else 0
            if ties + len(rows) >= total:
                return
            last = _updated(rows[-1].updated_date) if rows else None
            if last is None or last == bound:  # still among the same moment (or none)
                ties += len(rows)
            else:
                bound, operator = last, "$gte"
                ties = sum(1 for s in rows if _updated(s.updated_date) == last)
            guard.more((bound, ties), len(rows))

    async def contacts_with_emails(self, emails: Iterable[str]) -> list[mapping.Contact]:
        found: list[mapping.Contact] = []
        for chunk in _chunks(list(dict.fromkeys(email.lower() for email in emails))):
            where = {"primaryInfo.email": {"$in": list(chunk)}}
            async for rows in self.pages(_CONTACTS, where, sort=False):
                found += rows
        return found

    @property
    def connection(self) -> str:
        return self._connection

    @property
    def adapter(self) -> WixAdapter:
        return self._adapter


@dataclass
class _Pass:
    """One watch pass (or full pass): the sources in turn, a batch a page."""

    watcher: WixWatcher
    marks: dict[str, Mark]
    full: bool
    contacts: set[str] = field(default_factory=set)  # contacts known to exist
    gone: set[str] = field(default_factory=set)  # contacts known not to
    consents: dict[str, Any] = field(default_factory=dict)  # full pass: by address

    async def run(self) -> AsyncIterator[Watched]:
        last = written(self.marks)
        steps: list[Callable[[], AsyncIterator[list[Seen]]]] = [
            self._subscriptions,
            self._contacts,
            self._bookings,
            self._orders,
        ]
        if not self.full:  # a changed contact before the subscriptions that changed
            steps[0], steps[1] = steps[1], steps[0]
        for step in steps:
            async for seen in step():
                now = written(self.marks)
                if self.full or seen or now != last:
                    yield Watched(tuple(seen), now)
                    last = now

    def _fresh(self, source: str, key: str | None, updated: Instant | None) -> bool:
        """Whether a record read is to be yielded (a full pass yields all); the mark
        moves past it either way."""
        mark = self.marks[source]
        fresh = self.full or not mark.knows(key, updated)
        mark.read(key, updated)
        return fresh

    def _participants(
        self, contacts: Sequence[mapping.Contact], consents: dict[str, Any]
    ) -> list[Seen]:
        seen = []
        for contact in contacts:
            record = mapping.participant(self.watcher.connection, contact)
            consent = mapping.consent_of(record, consents)
            self.contacts.add(contact.id)
            fields = participant_fields(record, consent)
            # when the contact or, if later, its address's subscription last changed
            moments = [_moment(contact.updated_date), _moment(consent.at if consent else None)]
            changed = max((m for m in moments if m), default=None)
            seen.append(Seen(Kind.PARTICIPANT, contact.id, contact.id, fields, changed))
        return seen

    async def _contacts(self) -> AsyncIterator[list[Seen]]:
        mark = self.marks[CONTACTS]
        async for rows in self.watcher.pages(_CONTACTS, _since(mark.since())):
            fresh = [c for c in rows if self._fresh(CONTACTS, c.id, _updated(c.updated_date))]
            mark.trim()
            if self.full:
                consents = self.consents
            else:
                emails = [c.primary_info.email for c in fresh if c.primary_info]
                consents = await self.watcher.adapter.consents_by_email(e for e in emails if e)
            yield self._participants(fresh, consents)

    async def _subscriptions(self) -> AsyncIterator[list[Seen]]:
        """A full pass keeps every consent for its contacts; a watch pass yields the
        participants of the addresses whose subscription changed."""
        mark = self.marks[SUBSCRIPTIONS]
        async for rows in self.watcher.subscription_pages(mark.since()):
            fresh = [
                s
                for s in rows
                # By the subscription's id, never its address: the watermark is stored,
                # and the store keeps no live provider's personal data.
                if self._fresh(SUBSCRIPTIONS, s.id, _updated(s.updated_date))
            ]
            mark.trim()
            consents = {s.email.lower(): mapping.consent(s) for s in fresh}
            if self.full:
                self.consents.update(consents)
                yield []
                continue
            contacts = await self.watcher.contacts_with_emails(consents) if consents else []
            yield self._participants(contacts, consents)

    async def _existing(self, contact_ids: Iterable[str]) -> set[str]:
        """Which of these contacts exist: the adapter lists no record of one that does not."""
        wanted = set(contact_ids)
        unknown = sorted(wanted - self.contacts - self.gone)
        if unknown:
            found = await self.watcher.adapter.participants_by_id(unknown)
            self.contacts.update(found)
            self.gone.update(set(unknown) - set(found))
        return wanted & self.contacts

    async def _bookings(self) -> AsyncIterator[list[Seen]]:
        mark = self.marks[BOOKINGS]
        async for rows in self.watcher.pages(_BOOKINGS, _since(mark.since())):
            placed = []
            for booking in rows:
                if not self._fresh(BOOKINGS, booking.id, _updated(booking.updated_date)):
                    continue
                record, contact = mapping.registration(booking), mapping.booking_contact(booking)
                if record is not None and contact:
                    placed.append((booking, record, contact))
            mark.trim()
            existing = await self._existing(contact for _, _, contact in placed)
            yield [
                Seen(
                    Kind.REGISTRATION,
                    record.provider_id,
                    contact,
                    registration_fields(record, self.watcher.connection),
                    _moment(booking.updated_date),
                )
                for booking, record, contact in placed
                if contact in existing
            ]

    async def _orders(self) -> AsyncIterator[list[Seen]]:
        mark = self.marks[ORDERS]
        async for rows in self.watcher.pages(_ORDERS, _since(mark.since())):
            placed = []
            for order in rows:
                contact = mapping.order_contact(order)
                if self._fresh(ORDERS, order.id, _updated(order.updated_date)) and contact:
                    placed.append((order, contact))
            mark.trim()
            existing = await self._existing(contact for _, contact in placed)
            yield [
                Seen(
                    Kind.PURCHASE,
                    record.provider_id,
                    contact,
                    purchase_fields(record, self.watcher.connection),
                    _moment(order.updated_date),
                )
                for order, contact in placed
                if contact in existing
                for record in mapping.purchases(order)
            ]
