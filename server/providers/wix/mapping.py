"""Wix JSON: its documented types, and how they map onto canonical records (the
mapping table's Wix column).

The structs are what `ProviderHttp` decodes Wix's answers into, so a field of the wrong
type is refused at the boundary instead of travelling into the graph. Wix omits default
and empty values, so every field but an object's id has a default.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import msgspec

from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantKey,
    ParticipantRecord,
    ProductRecord,
    PurchaseRecord,
    RegistrationRecord,
)
from schema.scalars import Instant

PROVIDER = "wix"

BOOKING_STATUS = {
    "CONFIRMED": "confirmed",
    "PENDING": "pending",
    "CREATED": "pending",
    "CANCELED": "cancelled",
    "DECLINED": "declined",
    "WAITING_LIST": "waitlisted",
}
SUBSCRIPTION_STATUS = {"SUBSCRIBED": "granted", "UNSUBSCRIBED": "denied", "PENDING": "pending"}
PAYMENT_STATUS = {
    "PAID": "paid",
    "NOT_PAID": "pending",
    "PENDING": "pending",
    "PARTIALLY_PAID": "partially_paid",
    "FULLY_REFUNDED": "refunded",
    "PARTIALLY_REFUNDED": "partially_refunded",
}


class _Wire(msgspec.Struct, rename="camel", gc=False):
    """Wix's JSON spells fields in camelCase."""


class Cursors(_Wire):
    next: str | None = None


class PagingMetadata(_Wire):
    has_next: bool = False
    cursors: Cursors | None = None

    def next_cursor(self) -> str | None:
        """Wix omits `hasNext` and `cursors.next` on the last page."""
        cursor = self.cursors.next if self.cursors else None
        return cursor if self.has_next and cursor else None


class Name(_Wire):
    first: str | None = None
    last: str | None = None


class ContactInfo(_Wire):
    name: Name | None = None


class PrimaryInfo(_Wire):
    email: str | None = None
    phone: str | None = None


class Contact(_Wire):
    id: str
    created_date: str | None = None
    updated_date: str | None = None
    info: ContactInfo | None = None
    primary_info: PrimaryInfo | None = None


class ContactsPage(_Wire):
    contacts: list[Contact] = []
    paging_metadata: PagingMetadata | None = None


class Subscription(_Wire):
    email: str
    id: str | None = None
    subscription_status: str | None = None
    created_date: str | None = None
    updated_date: str | None = None


class OffsetMetadata(_Wire):
    total: int = 0


class SubscriptionsPage(_Wire):
    subscriptions: list[Subscription] = []
    metadata: OffsetMetadata | None = None


class Slot(_Wire):
    session_id: str | None = None


class BookedEntity(_Wire):
    slot: Slot | None = None


class ContactDetails(_Wire):
    contact_id: str | None = None


class Booking(_Wire):
    id: str
    status: str | None = None
    booked_entity: BookedEntity | None = None
    contact_details: ContactDetails | None = None
    created_date: str | None = None
    updated_date: str | None = None


class ExtendedBooking(_Wire):
    booking: Booking | None = None


class BookingsPage(_Wire):
    extended_bookings: list[ExtendedBooking] = []
    paging_metadata: PagingMetadata | None = None


class Money(_Wire):
    amount: str | float | None = None


class CatalogReference(_Wire):
    catalog_item_id: str | None = None


class ProductName(_Wire):
    original: str | None = None


class LineItem(_Wire):
    id: str
    product_name: ProductName | None = None
    catalog_reference: CatalogReference | None = None
    total_price_after_tax: Money | None = None


class BuyerInfo(_Wire):
    contact_id: str | None = None


class Order(_Wire):
    id: str
    status: str | None = None
    payment_status: str | None = None
    currency: str | None = None
    created_date: str | None = None
    updated_date: str | None = None
    purchased_date: str | None = None
    buyer_info: BuyerInfo | None = None
    line_items: list[LineItem] = []


class OrdersPage(_Wire):
    orders: list[Order] = []
    metadata: PagingMetadata | None = None


class SessionTime(_Wire):
    timestamp: str | None = None


class Session(_Wire):
    id: str
    title: str | None = None
    start: SessionTime | None = None
    end: SessionTime | None = None
    capacity: int = 0
    status: str | None = None


class SessionEnvelope(_Wire):
    session: Session


# The same few prices, over and over; `typed`: 25 and 25.0 are equal keys otherwise.
@functools.lru_cache(maxsize=1 << 12, typed=True)
def _amount(value: str | float | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value if isinstance(value, str) else str(value))
    except InvalidOperation:
        return None


def participant(connection: str, contact: Contact) -> ParticipantRecord:
    name = contact.info.name if contact.info else None
    full = " ".join(part for part in (name.first, name.last) if part) if name else ""
    primary = contact.primary_info
    return ParticipantRecord(
        key=ParticipantKey(connection, contact.id),
        name=full or None,
        email=(primary.email or None) if primary else None,
        phone=(primary.phone or None) if primary else None,
        created_at=Instant.of(contact.created_date),
        provider=PROVIDER,
    )


def consent(subscription: Subscription) -> ConsentRecord:
    return ConsentRecord(
        status=SUBSCRIPTION_STATUS.get(subscription.subscription_status or "", "unknown"),
        at=Instant.of(subscription.updated_date or subscription.created_date),
    )


def consent_of(
    record: ParticipantRecord, by_email: Mapping[str, ConsentRecord]
) -> ConsentRecord | None:
    """A participant's consent, from the subscriptions by lowercased address: none without
    an email, `unknown` for an address with no subscription."""
    if not record.email:
        return None
    return by_email.get(record.email.lower(), ConsentRecord("unknown", None))


def booking_contact(booking: Booking) -> str | None:
    return (booking.contact_details.contact_id or None) if booking.contact_details else None


def registration(booking: Booking) -> RegistrationRecord | None:
    """None for a booking this graph cannot place (no session, unknown status)."""
    status = BOOKING_STATUS.get(booking.status or "")
    entity = booking.booked_entity
    session_id = entity.slot.session_id if entity and entity.slot else None
    if status is None or not session_id:
        return None
    return RegistrationRecord(
        provider_id=booking.id,
        status=status,
        confirmed_at=Instant.of(booking.updated_date) if status == "confirmed" else None,
        session_id=session_id,
        created_at=Instant.of(booking.created_date),
    )


def order_contact(order: Order) -> str | None:
    return (order.buyer_info.contact_id or None) if order.buyer_info else None


def purchases(order: Order) -> list[PurchaseRecord]:
    """One purchase per line item: a participant buys products, an order groups them."""
    if order.status == "CANCELED":
        status = "cancelled"
    else:
        status = PAYMENT_STATUS.get(order.payment_status or "", "pending")
    purchased_at = Instant.of(order.purchased_date or order.created_date)
    created_at = Instant.of(order.created_date)
    records = []
    for line in order.line_items:
        reference = line.catalog_reference
        catalog_id = (reference.catalog_item_id if reference else None) or line.id
        price = line.total_price_after_tax
        records.append(
            PurchaseRecord(
                provider_id=f"{order.id}/{line.id}",
                status=status,
                price_paid=_amount(price.amount) if price else None,
                currency_code=order.currency or None,
                purchased_at=purchased_at,
                product=ProductRecord(
                    provider_id=catalog_id,
                    name=(line.product_name.original or None) if line.product_name else None,
                ),
                created_at=created_at,
            )
        )
    return records


def activity_session(session: Session) -> ActivitySessionRecord:
    return ActivitySessionRecord(
        provider_id=session.id,
        title=session.title or None,
        starts_at=Instant.of(session.start.timestamp) if session.start else None,
        ends_at=Instant.of(session.end.timestamp) if session.end else None,
        capacity=session.capacity,
        status=session.status.lower() if session.status else None,
    )
