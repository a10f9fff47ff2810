"""What plausibly happens at a Wix studio, as changes the Wix emulator takes: the activity
simulator names an `Intent`, and this picks who and what from the site's current data."""

from __future__ import annotations

import random
from collections.abc import Callable

from server.providers.emulated.mutations import Intent, Json
from server.providers.wix.emulated.dataset import (
    ACTIVE_BOOKING_STATUSES,
    FIRST_NAMES,
    LAST_NAMES,
    WixDataset,
    _slug,
)
from server.providers.wix.emulated.draft import Product

PENDING = ("PENDING", "CREATED")
UNPAID = ("NOT_PAID", "PENDING", "PARTIALLY_PAID")


def propose(
    dataset: WixDataset, products: dict[str, Product], intent: Intent, rng: random.Random
) -> Json | None:
    """A change request for `intent`, or None when the site has nothing to apply it to."""
    proposers: dict[Intent, Callable[[WixDataset, random.Random], Json | None]] = {
        Intent.JOIN: _join,
        Intent.REGISTER: _register,
        Intent.CONFIRM: lambda data, r: _booking_to(data, r, PENDING, "CONFIRMED"),
        Intent.CANCEL: lambda data, r: _booking_to(data, r, ("CONFIRMED", *PENDING), "CANCELED"),
        Intent.CONSENT: _consent,
        Intent.PURCHASE: lambda data, r: _purchase(data, products, r),
        Intent.PAYMENT: _payment,
        Intent.RENAME: _rename,
        Intent.REEMAIL: _reemail,
        Intent.UNREGISTER: _unregister,
        Intent.LEAVE: _leave,
    }
    return proposers[intent](dataset, rng)


def _open_sessions(dataset: WixDataset, taken: frozenset[str] = frozenset()) -> list[str]:
    """Sessions with a free seat, not cancelled, other than `taken`."""
    return [
        session["id"]
        for session in dataset.sessions
        if session.get("status") != "CANCELLED"
        and session.get("remainingCapacity")
        and session["id"] not in taken
    ]


def _email(dataset: WixDataset, first: str, last: str, rng: random.Random) -> str:
    used = {c.get("primaryInfo", {}).get("email") for c in dataset.contacts}
    while True:
        email = f"{_slug(first)}.{_slug(last)}.{rng.randrange(1000, 10000)}@example.com"
        if email not in used:
            return email


def _join(dataset: WixDataset, rng: random.Random) -> Json:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    change: Json = {
        "kind": "participant",
        "op": "add",
        "name": f"{first} {last}",
        "email": _email(dataset, first, last, rng),
    }
    if rng.random() < 0.6:
        change["subscriptionStatus"] = "SUBSCRIBED"
    if sessions := _open_sessions(dataset):
        change["session"] = rng.choice(sessions)
    return change


def _register(dataset: WixDataset, rng: random.Random) -> Json | None:
    if not dataset.contacts:
        return None
    contact = rng.choice(dataset.contacts)
    booked = frozenset(
        b["bookedEntity"]["slot"]["sessionId"]
        for b in dataset.bookings
        if b["contactDetails"]["contactId"] == contact["id"]
        and b["status"] in ACTIVE_BOOKING_STATUSES
    )
    sessions = _open_sessions(dataset, booked)
    if not sessions:
        return None
    return {
        "kind": "registration",
        "op": "add",
        "participant": contact["id"],
        "session": rng.choice(sessions),
    }


def _booking_to(
    dataset: WixDataset, rng: random.Random, current: tuple[str, ...], status: str
) -> Json | None:
    bookings = [booking for booking in dataset.bookings if booking["status"] in current]
    if not bookings:
        return None
    booking = rng.choice(bookings)
    return {"kind": "registration", "op": "change", "id": booking["id"], "status": status}


def _with_email(dataset: WixDataset) -> list[Json]:
    return [c for c in dataset.contacts if c.get("primaryInfo", {}).get("email")]


def _consent(dataset: WixDataset, rng: random.Random) -> Json | None:
    contacts = _with_email(dataset)
    if not contacts:
        return None
    contact = rng.choice(contacts)
    email = contact["primaryInfo"]["email"]
    current = next(
        (s["subscriptionStatus"] for s in dataset.subscriptions if s["email"] == email), None
    )
    status = "UNSUBSCRIBED" if current == "SUBSCRIBED" else "SUBSCRIBED"
    change = {"kind": "participant", "op": "change", "id": contact["id"]}
    return {**change, "subscriptionStatus": status}


def _purchase(dataset: WixDataset, products: dict[str, Product], rng: random.Random) -> Json | None:
    if not dataset.contacts or not products:
        return None
    return {
        "kind": "purchase",
        "op": "add",
        "participant": rng.choice(dataset.contacts)["id"],
        "product": rng.choice(sorted(products)),
        "quantity": rng.choice((1, 1, 1, 2)),
    }


def _payment(dataset: WixDataset, rng: random.Random) -> Json | None:
    unpaid = [o for o in dataset.orders if o.get("paymentStatus") in UNPAID]
    if unpaid:
        order = rng.choice(unpaid)
        return {"kind": "purchase", "op": "change", "id": order["id"], "paymentStatus": "PAID"}
    paid = [o for o in dataset.orders if o.get("paymentStatus") == "PAID"]
    if not paid:
        return None
    order = rng.choice(paid)
    return {
        "kind": "purchase",
        "op": "change",
        "id": order["id"],
        "paymentStatus": "FULLY_REFUNDED",
    }


def _rename(dataset: WixDataset, rng: random.Random) -> Json | None:
    if not dataset.contacts:
        return None
    contact = rng.choice(dataset.contacts)
    name = contact.get("info", {}).get("name", {})
    first = name.get("first") or rng.choice(FIRST_NAMES)
    last = rng.choice([n for n in LAST_NAMES if n != name.get("last")])
    return {"kind": "participant", "op": "change", "id": contact["id"], "name": f"{first} {last}"}


def _reemail(dataset: WixDataset, rng: random.Random) -> Json | None:
    contacts = _with_email(dataset)
    if not contacts:
        return None
    contact = rng.choice(contacts)
    name = contact.get("info", {}).get("name", {})
    first, last = name.get("first") or "member", name.get("last") or "studio"
    email = _email(dataset, first, last, rng)
    return {"kind": "participant", "op": "change", "id": contact["id"], "email": email}


def _unregister(dataset: WixDataset, rng: random.Random) -> Json | None:
    if not dataset.bookings:
        return None
    return {"kind": "registration", "op": "remove", "id": rng.choice(dataset.bookings)["id"]}


def _leave(dataset: WixDataset, rng: random.Random) -> Json | None:
    if not dataset.contacts:
        return None
    return {"kind": "participant", "op": "remove", "id": rng.choice(dataset.contacts)["id"]}
