"""Wix JSON → canonical records (`shared` mapping table, Wix column).

Wix omits default and empty values, so every lookup here treats a missing key as its
default instead of failing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantKey,
    ParticipantRecord,
    ProductRecord,
    PurchaseRecord,
    RegistrationRecord,
)

KIND = "wix"

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


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def participant(connection: str, contact: dict[str, Any]) -> ParticipantRecord:
    first = _dig(contact, "info", "name", "first") or ""
    last = _dig(contact, "info", "name", "last") or ""
    name = f"{first} {last}".strip() or None
    return ParticipantRecord(
        key=ParticipantKey(connection, str(contact["id"])),
        name=name,
        email=_dig(contact, "primaryInfo", "email") or None,
        phone=_dig(contact, "primaryInfo", "phone") or None,
        created_at=parse_time(contact.get("createdDate")),
        source=KIND,
    )


def consent(subscription: dict[str, Any]) -> ConsentRecord:
    return ConsentRecord(
        status=SUBSCRIPTION_STATUS.get(subscription.get("subscriptionStatus", ""), "unknown"),
        at=parse_time(subscription.get("updatedDate") or subscription.get("createdDate")),
    )


def registration(booking: dict[str, Any]) -> RegistrationRecord | None:
    """None for a booking this graph cannot place (no session, unknown status)."""
    status = BOOKING_STATUS.get(booking.get("status", ""))
    session_id = _dig(booking, "bookedEntity", "slot", "sessionId")
    if status is None or not session_id:
        return None
    return RegistrationRecord(
        provider_id=str(booking["id"]),
        status=status,
        confirmed_at=parse_time(booking.get("updatedDate")) if status == "confirmed" else None,
        session_id=str(session_id),
        created_at=parse_time(booking.get("createdDate")),
    )


def purchases(order: dict[str, Any]) -> list[PurchaseRecord]:
    """One purchase per line item: a participant buys products, an order groups them."""
    if order.get("status") == "CANCELED":
        status = "cancelled"
    else:
        status = PAYMENT_STATUS.get(order.get("paymentStatus", ""), "pending")
    purchased_at = parse_time(order.get("purchasedDate") or order.get("createdDate"))
    records = []
    for line in order.get("lineItems") or []:
        catalog_id = _dig(line, "catalogReference", "catalogItemId") or line.get("id")
        records.append(
            PurchaseRecord(
                provider_id=f"{order['id']}/{line['id']}",
                status=status,
                price_paid=_amount(_dig(line, "totalPriceAfterTax", "amount")),
                currency_code=order.get("currency") or None,
                purchased_at=purchased_at,
                product=ProductRecord(
                    provider_id=str(catalog_id),
                    name=_dig(line, "productName", "original") or None,
                ),
                created_at=parse_time(order.get("createdDate")),
            )
        )
    return records


def activity_session(session: dict[str, Any]) -> ActivitySessionRecord:
    status = session.get("status")
    return ActivitySessionRecord(
        provider_id=str(session["id"]),
        title=session.get("title") or None,
        starts_at=parse_time(_dig(session, "start", "timestamp")),
        ends_at=parse_time(_dig(session, "end", "timestamp")),
        capacity=session.get("capacity", 0),
        status=status.lower() if isinstance(status, str) else None,
    )
