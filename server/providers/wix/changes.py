"""Changes to an emulated Wix site (`POST /__mutate`), in Wix's own terms.

A participant is a contact (`name`, `email`, `phone`; consent is the email subscription of
the contact's address, changed with `subscriptionStatus`), a registration a booking
(`participant` = contact id, `session` = calendar session id, `status`), a purchase an
eCommerce order (`participant`, `product` = catalog item id, `quantity`, `paymentStatus`,
`status`). Every record a change writes gets the change's moment as `updatedDate` (and as
`createdDate` when it is new) and a higher `revision`, so Wix's `updatedDate` queries see
it. A contact's email change leaves the old address's subscription, and the contact's
bookings and orders keep the contact details they were made with, as on Wix.

Removing a contact removes their bookings (freeing their seats), their orders and the
email subscription of their address: the person is erased, and Wix would otherwise keep
bookings and orders that belong to nobody the graph can show.

Records are never edited in place (the data set passed to the emulator may be shared):
each change replaces the records it touches with new ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from server.providers.changes import Change, Done, Json
from server.providers.wix.dataset import (
    ACTIVE_BOOKING_STATUSES,
    ECOM_APP_ID,
    WixDataset,
    iso,
    prune,
)
from server.providers.wix.mapping import BOOKING_STATUS, PAYMENT_STATUS

KINDS = ("participant", "registration", "purchase")
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


def apply(draft: Draft, change: Change, products: dict[str, Product]) -> Done:
    """Apply `change` to `draft`; what was done."""
    handlers: dict[tuple[str, str], Callable[[Draft, Change], Done]] = {
        ("participant", "add"): _add_contact,
        ("participant", "change"): _change_contact,
        ("participant", "remove"): _remove_contact,
        ("registration", "add"): _add_booking,
        ("registration", "change"): _change_booking,
        ("registration", "remove"): _remove_booking,
        ("purchase", "add"): lambda d, c: _add_order(d, c, products),
        ("purchase", "change"): _change_order,
        ("purchase", "remove"): _remove_order,
    }
    return handlers[(change.kind, change.op)](draft, change)


# ---------------------------------------------------------------- contacts


def _name(full: str | None) -> Json:
    first, _, last = (full or "").partition(" ")
    return {"first": first, "last": last.strip()}


def _label(contact: Json) -> str:
    """Who a contact is, for people reading what a change did."""
    name = contact.get("info", {}).get("name", {})
    full = " ".join(part for part in (name.get("first"), name.get("last")) if part)
    return full or contact.get("primaryInfo", {}).get("email") or contact["id"]


def _check_email_free(draft: Draft, email: str | None, change: Change, own: str = "") -> None:
    wanted = (email or "").lower()
    for contact in draft.contacts:
        theirs = str(contact.get("primaryInfo", {}).get("email", "")).lower()
        if wanted and contact["id"] != own and theirs == wanted:
            raise change.error(409, f"A contact with email {email} already exists")


def _add_contact(draft: Draft, change: Change) -> Done:
    change.allow("name", "email", "phone", "subscriptionStatus", "session", "status")
    name, email = change.text("name"), change.text("email")
    email = email.lower() if email else None
    consent = change.choice("subscriptionStatus", SUBSCRIPTION_STATUSES)
    if consent and not email:
        raise change.error(400, "subscriptionStatus needs the contact's email")
    _check_email_free(draft, email, change)
    contact = prune(
        {
            "id": draft.new_id("contact"),
            "revision": 1,
            "createdDate": draft.stamp,
            "updatedDate": draft.stamp,
            "info": {"name": _name(name)},
            "primaryInfo": {"email": email, "phone": change.text("phone")},
        }
    )
    draft.contacts.append(contact)
    done = Done(change, contact["id"], draft.stamp, f"added contact {_label(contact)}")
    done.record = contact
    done.touch("participant", "add", contact["id"], "contact")
    if consent:
        _set_consent(draft, done, contact, consent)
    if change.get("session") is not None:
        booking = _book(draft, change, contact, change.need("session"))
        done.done += f", booked into {booking['bookedEntity']['title']} ({booking['status']})"
        done.touch("registration", "add", booking["id"], "booking")
    elif change.get("status") is not None:
        raise change.error(400, "status is a booking's: give the session too")
    return done


def _change_contact(draft: Draft, change: Change) -> Done:
    change.allow("name", "email", "phone", "subscriptionStatus")
    if not change.fields:
        raise change.error(400, "participant change needs name, email, phone or subscriptionStatus")
    index = draft.find(draft.contacts, change.id, change, "Contact")
    contact = draft.contacts[index]
    done = Done(change, contact["id"], draft.stamp, f"changed contact {_label(contact)}")
    own = {key: change.get(key) for key in ("name", "email", "phone") if key in change.fields}
    if own:
        updated = {**contact, "info": dict(contact.get("info", {}))}
        primary = dict(contact.get("primaryInfo", {}))
        if "name" in own:
            updated["info"]["name"] = _name(change.text("name"))
        if "email" in own:
            email = change.text("email")
            _check_email_free(draft, email, change, own=contact["id"])
            primary["email"] = email.lower() if email else None
        if "phone" in own:
            primary["phone"] = change.text("phone")
        updated["primaryInfo"] = primary
        updated["revision"] = contact.get("revision", 0) + 1
        updated["updatedDate"] = draft.stamp
        contact = draft.contacts[index] = prune(updated)
        done.touch("participant", "change", contact["id"], "contact")
        done.done += f": {', '.join(sorted(own))}"
    consent = change.choice("subscriptionStatus", SUBSCRIPTION_STATUSES)
    if consent:
        if not contact.get("primaryInfo", {}).get("email"):
            raise change.error(409, "The contact has no email to subscribe")
        _set_consent(draft, done, contact, consent)
        done.done += f"; subscription {consent}"
    done.record = contact
    return done


def _set_consent(draft: Draft, done: Done, contact: Json, status: str) -> None:
    """The subscription of the contact's address: changed, or made."""
    email = contact["primaryInfo"]["email"]
    index = draft.subscription_of(email)
    if index is None:
        subscription = {
            "id": draft.new_id("subscription"),
            "email": email,
            "subscriptionStatus": status,
            "deliverabilityStatus": "VALID",
            "createdDate": draft.stamp,
            "updatedDate": draft.stamp,
        }
        draft.subscriptions.append(subscription)
        done.touch("participant", "add", contact["id"], "subscription")
        return
    subscription = {**draft.subscriptions[index], "subscriptionStatus": status}
    draft.subscriptions[index] = {**subscription, "updatedDate": draft.stamp}
    done.touch("participant", "change", contact["id"], "subscription")


def _remove_contact(draft: Draft, change: Change) -> Done:
    change.allow()
    contact = draft.contacts.pop(draft.find(draft.contacts, change.id, change, "Contact"))
    done = Done(change, contact["id"], draft.stamp, f"removed contact {_label(contact)}")
    done.touch("participant", "remove", contact["id"], "contact")
    mine = contact["id"]
    theirs = [b for b in draft.bookings if b["contactDetails"]["contactId"] == mine]
    draft.bookings = [b for b in draft.bookings if b["contactDetails"]["contactId"] != mine]
    for booking in theirs:
        done.touch("registration", "remove", booking["id"], "booking")
    for session_id in dict.fromkeys(b["bookedEntity"]["slot"]["sessionId"] for b in theirs):
        draft.recount(session_id)
    orders = [o for o in draft.orders if o["buyerInfo"]["contactId"] == contact["id"]]
    draft.orders = [o for o in draft.orders if o["buyerInfo"]["contactId"] != contact["id"]]
    for order in orders:
        done.touch("purchase", "remove", order["id"], "order")
    index = draft.subscription_of(contact.get("primaryInfo", {}).get("email"))
    if index is not None:
        draft.subscriptions.pop(index)
    done.done += f" with {len(theirs)} bookings and {len(orders)} orders"
    return done


# ---------------------------------------------------------------- bookings


def _book(draft: Draft, change: Change, contact: Json, session_id: Any) -> Json:
    status = change.choice("status", BOOKING_STATUSES, "CONFIRMED")
    session = draft.sessions[draft.find(draft.sessions, session_id, change, "Session")]
    if session.get("status") == "CANCELLED":
        raise change.error(409, f"Session {session_id} is cancelled")
    for booking in draft.bookings:
        if (
            booking["contactDetails"]["contactId"] == contact["id"]
            and booking["bookedEntity"]["slot"]["sessionId"] == session_id
            and booking["status"] in ACTIVE_BOOKING_STATUSES
        ):
            raise change.error(409, f"Contact {contact['id']} already booked session {session_id}")
    if status in ACTIVE_BOOKING_STATUSES and not session.get("remainingCapacity"):
        status = "WAITING_LIST"  # as the data set fills sessions: a full one waitlists
    name, primary = contact.get("info", {}).get("name", {}), contact.get("primaryInfo", {})
    booking = prune(
        {
            "id": draft.new_id("booking"),
            "status": status,
            "paymentStatus": "NOT_PAID",
            "bookedEntity": {
                "slot": {
                    "sessionId": session["id"],
                    "serviceId": session["scheduleOwnerId"],
                    "scheduleId": session["scheduleId"],
                    "startDate": session["start"]["timestamp"],
                    "endDate": session["end"]["timestamp"],
                },
                "title": session["title"],
            },
            "contactDetails": {
                "contactId": contact["id"],
                "firstName": name.get("first"),
                "lastName": name.get("last"),
                "email": primary.get("email"),
                "phone": primary.get("phone"),
            },
            "totalParticipants": 1,
            "createdDate": draft.stamp,
            "updatedDate": draft.stamp,
            "revision": "1",
        }
    )
    draft.bookings.append(booking)
    draft.recount(session["id"])
    return booking


def _add_booking(draft: Draft, change: Change) -> Done:
    change.allow("participant", "session", "status")
    session_id, contact_id = change.need("session"), change.need("participant")
    contact = draft.contacts[draft.find(draft.contacts, contact_id, change, "Contact")]
    booking = _book(draft, change, contact, session_id)
    title = booking["bookedEntity"]["title"]
    done = Done(change, booking["id"], draft.stamp, f"booked {_label(contact)} into {title}")
    done.done += f" ({booking['status']})"
    done.record = booking
    return done.touch("registration", "add", booking["id"], "booking")


def _change_booking(draft: Draft, change: Change) -> Done:
    change.allow("status")
    status = change.choice("status", BOOKING_STATUSES)
    if status is None:
        raise change.error(400, "registration change needs 'status'")
    index = draft.find(draft.bookings, change.id, change, "Booking")
    booking = draft.bookings[index]
    session_id = booking["bookedEntity"]["slot"]["sessionId"]
    session = draft.sessions[draft.find(draft.sessions, session_id, change, "Session")]
    joins = status in ACTIVE_BOOKING_STATUSES and booking["status"] not in ACTIVE_BOOKING_STATUSES
    if joins and not session.get("remainingCapacity"):
        raise change.error(409, f"Session {session_id} is full")
    revision = str(int(booking.get("revision", "0")) + 1)
    updated = {**booking, "status": status, "revision": revision, "updatedDate": draft.stamp}
    draft.bookings[index] = updated
    draft.recount(session_id)
    details = booking["contactDetails"]
    who = " ".join(p for p in (details.get("firstName"), details.get("lastName")) if p)
    what = f"{who or details['contactId']}'s {booking['bookedEntity']['title']} booking {status}"
    done = Done(change, booking["id"], draft.stamp, what)
    done.record = updated
    return done.touch("registration", "change", booking["id"], "booking")


def _remove_booking(draft: Draft, change: Change) -> Done:
    change.allow()
    booking = draft.bookings.pop(draft.find(draft.bookings, change.id, change, "Booking"))
    draft.recount(booking["bookedEntity"]["slot"]["sessionId"])
    done = Done(change, booking["id"], draft.stamp, f"removed booking {booking['id']}")
    return done.touch("registration", "remove", booking["id"], "booking")


# ---------------------------------------------------------------- orders


def _money(amount: Decimal) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "formattedAmount": f"${amount:,.2f}"}


def _add_order(draft: Draft, change: Change, products: dict[str, Product]) -> Done:
    change.allow("participant", "product", "quantity", "paymentStatus")
    contact_id = change.need("participant")
    contact = draft.contacts[draft.find(draft.contacts, contact_id, change, "Contact")]
    if not products:
        raise change.error(409, "The store sells nothing yet")
    product_id = change.get("product", next(iter(products)))
    if product_id not in products:
        raise change.missing(f"Product {product_id}")
    quantity = change.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 100:
        raise change.error(400, "quantity must be an integer between 1 and 100")
    product = products[product_id]
    numbers = [int(order["number"]) for order in draft.orders if order.get("number")]
    order = prune(
        {
            "id": draft.new_id("order"),
            "number": str(max(numbers, default=10000) + 1),
            "createdDate": draft.stamp,
            "purchasedDate": draft.stamp,
            "updatedDate": draft.stamp,
            "status": "APPROVED",
            "paymentStatus": change.choice("paymentStatus", PAYMENT_STATUSES, "PAID"),
            "currency": "USD",
            "buyerInfo": {
                "contactId": contact["id"],
                "email": contact.get("primaryInfo", {}).get("email"),
            },
            "lineItems": [
                {
                    "id": draft.new_id("line item"),
                    "productName": {"original": product.name},
                    "catalogReference": {"catalogItemId": product.id, "appId": ECOM_APP_ID},
                    "quantity": quantity,
                    "price": _money(product.price),
                    "totalPriceAfterTax": _money(product.price * quantity),
                }
            ],
        }
    )
    draft.orders.append(order)
    done = Done(change, order["id"], draft.stamp, f"order {order['number']}: {product.name}")
    done.done += f" x{quantity} for {_label(contact)}"
    done.record = order
    return done.touch("purchase", "add", order["id"], "order")


def _change_order(draft: Draft, change: Change) -> Done:
    change.allow("paymentStatus", "status")
    if not change.fields:
        raise change.error(400, "purchase change needs paymentStatus or status")
    wanted = {
        "paymentStatus": change.choice("paymentStatus", PAYMENT_STATUSES),
        "status": change.choice("status", ORDER_STATUSES),
    }
    index = draft.find(draft.orders, change.id, change, "Order")
    order = draft.orders[index]
    updated = {**order, "updatedDate": draft.stamp}
    updated |= {key: value for key, value in wanted.items() if key in change.fields}
    draft.orders[index] = updated = prune(updated)
    what = ", ".join(str(updated.get(key)) for key in change.fields)
    done = Done(change, order["id"], draft.stamp, f"order {order.get('number')} {what}")
    done.record = updated
    return done.touch("purchase", "change", order["id"], "order")


def _remove_order(draft: Draft, change: Change) -> Done:
    change.allow()
    order = draft.orders.pop(draft.find(draft.orders, change.id, change, "Order"))
    done = Done(change, order["id"], draft.stamp, f"removed order {order.get('number')}")
    return done.touch("purchase", "remove", order["id"], "order")


def new_ids() -> Callable[[str], str]:
    """Ids for what changes make: version 5 UUIDs (never equal to a generated version 4
    id), the same for the same history of changes."""
    counts: dict[str, int] = {}

    def new_id(kind: str) -> str:
        counts[kind] = counts.get(kind, 0) + 1
        return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{counts[kind]}"))

    return new_id
