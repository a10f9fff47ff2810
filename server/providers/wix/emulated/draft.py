"""The records of an emulated Wix site while one change is applied, and what changes
share: the values Wix takes, the store's products, ids for new records."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from server.providers.emulated.mutations import Change, Json
from server.providers.wix.emulated.dataset import ACTIVE_BOOKING_STATUSES, WixDataset, iso, prune
from server.providers.wix.mapping import BOOKING_STATUS, PAYMENT_STATUS

BOOKING_STATUSES = tuple(BOOKING_STATUS)
SUBSCRIPTION_STATUSES = ("SUBSCRIBED", "UNSUBSCRIBED", "PENDING", "NOT_SET")
PAYMENT_STATUSES = tuple(PAYMENT_STATUS)
ORDER_STATUSES = ("APPROVED", "CANCELED")
ID_NAMESPACE = uuid.UUID("0b8f2f4e-3c1d-4a5b-9e6f-7a8b9c0d1e2f")  # ids made by changes


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price: Decimal


def catalogue(dataset: WixDataset) -> dict[str, Product]:
    """The store's products, as its orders' line items show them, by catalog item id."""
    products: dict[str, Product] = {}
    for order in dataset.orders:
        for item in order.get("lineItems", ()):
            product_id = item["catalogReference"]["catalogItemId"]
            name, price = item["productName"]["original"], Decimal(item["price"]["amount"])
            products.setdefault(product_id, Product(product_id, name, price))
    return dict(sorted(products.items(), key=lambda pair: (pair[1].name, pair[0])))


class Draft:
    """The site's records while one change is applied: lists of the data set's own
    records, replaced (never edited) where the change touches them."""

    def __init__(self, dataset: WixDataset, at: datetime, new_id: Callable[[str], str]) -> None:
        self.contacts = list(dataset.contacts)
        self.sessions = list(dataset.sessions)
        self.bookings = list(dataset.bookings)
        self.subscriptions = list(dataset.subscriptions)
        self.orders = list(dataset.orders)
        self.at, self.stamp, self.new_id = at, iso(at), new_id

    def dataset(self) -> WixDataset:
        return WixDataset(
            contacts=tuple(self.contacts),
            sessions=tuple(self.sessions),
            bookings=tuple(self.bookings),
            subscriptions=tuple(self.subscriptions),
            orders=tuple(self.orders),
        )

    def find(self, rows: list[Json], record_id: Any, change: Change, what: str) -> int:
        for index, row in enumerate(rows):
            if row["id"] == record_id:
                return index
        raise change.missing(f"{what} {record_id}")

    def subscription_of(self, email: str | None) -> int | None:
        wanted = (email or "").lower()
        for index, row in enumerate(self.subscriptions):
            if wanted and row["email"].lower() == wanted:
                return index
        return None

    def recount(self, session_id: str) -> None:
        """A session's seats after its bookings changed: active bookings hold one each."""
        index = next(i for i, s in enumerate(self.sessions) if s["id"] == session_id)
        session = self.sessions[index]
        taken = sum(
            1
            for booking in self.bookings
            if booking["bookedEntity"]["slot"]["sessionId"] == session_id
            and booking["status"] in ACTIVE_BOOKING_STATUSES
        )
        capacity = session.get("capacity", 0)
        version = session.get("version", {}).get("number", 0) + 1
        self.sessions[index] = prune(
            {
                **session,
                "totalNumberOfParticipants": taken,
                "remainingCapacity": max(capacity - taken, 0),
                "version": {"number": version},
            }
        )


def label(contact: Json) -> str:
    """Who a contact is, for people reading what a change did."""
    name = contact.get("info", {}).get("name", {})
    full = " ".join(part for part in (name.get("first"), name.get("last")) if part)
    return full or contact.get("primaryInfo", {}).get("email") or contact["id"]


def new_ids() -> Callable[[str], str]:
    """Ids for what changes make: version 5 UUIDs (never equal to a generated version 4
    id), the same for the same history of changes."""
    counts: dict[str, int] = {}

    def new_id(kind: str) -> str:
        counts[kind] = counts.get(kind, 0) + 1
        return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{counts[kind]}"))

    return new_id
