"""Deterministic synthetic data for the Wix emulator.

The emulator must behave like a real studio's Wix site (contacts who book classes,
subscribe to newsletters and buy passes) while staying reproducible: the same
``(seed, contacts)`` pair always yields byte-identical JSON, so tests and demos can
assert on concrete values. All randomness flows from one ``random.Random(seed)`` and
all dates are offsets from a fixed anchor, never from the wall clock.

Objects are stored exactly as Wix serialises them: default values (empty lists,
``false``, ``0``, ``""``, ``null``) are omitted, so clients are exercised against
missing keys the way the real API exercises them.
"""

from __future__ import annotations

import random
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

ANCHOR = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ECOM_APP_ID = "215238eb-22a5-4c36-9e7b-e7c08025e04e"
SESSION_COUNT = 40
ACTIVE_BOOKING_STATUSES = ("CONFIRMED", "PENDING", "CREATED")
PARTICIPANT_APPROVAL = {
    "CONFIRMED": "APPROVED",
    "PENDING": "PENDING",
    "CREATED": "PENDING",
    "DECLINED": "DECLINED",
}

FIRST_NAMES = (
    "Ava",
    "Liam",
    "Olivia",
    "Noah",
    "Emma",
    "Mateo",
    "Sophia",
    "Lucas",
    "Isabella",
    "Ethan",
    "Mia",
    "Aiden",
    "Amelia",
    "Elijah",
    "Harper",
    "James",
    "Chloe",
    "Benjamin",
    "Zoe",
    "Daniel",
    "Priya",
    "Arjun",
    "Mei",
    "Hiro",
    "Fatima",
    "Omar",
    "Leila",
    "Tomás",
    "Ingrid",
    "Nikolai",
    "Grace",
    "Samuel",
    "Nora",
    "Caleb",
    "Hannah",
    "Julian",
    "Aaliyah",
    "Owen",
    "Sienna",
    "Kai",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Garcia",
    "Brown",
    "Miller",
    "Davis",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyen",
    "Patel",
    "Kim",
    "Okafor",
    "Rossi",
    "Schmidt",
    "O'Brien",
    "Novak",
    "Silva",
    "Tanaka",
    "Haddad",
    "Kowalski",
    "Fischer",
)
# (title, duration in minutes)
CLASSES = (
    ("Morning Flow Yoga", 60),
    ("Pottery Wheel Basics", 120),
    ("Vinyasa Power Hour", 60),
    ("Restorative Yin", 75),
    ("Hand-Building Ceramics", 90),
    ("Sunset Pilates", 50),
    ("Watercolor for Beginners", 90),
    ("Barre Sculpt", 45),
    ("Prenatal Yoga", 60),
    ("Glazing Workshop", 120),
)
# (name, unit price)
PRODUCTS = (
    ("10-Class Pass", "180.00"),
    ("5-Class Pass", "99.00"),
    ("Drop-in Class", "25.00"),
    ("Monthly Unlimited", "149.00"),
    ("Intro Week Pass", "30.00"),
    ("Yoga Mat", "48.00"),
    ("Cork Yoga Block", "18.50"),
    ("Cotton Strap", "12.00"),
    ("Meditation Cushion", "54.00"),
    ("Studio Water Bottle", "22.00"),
    ("Pottery Clay 5kg", "28.75"),
    ("Glaze Sampler Set", "36.00"),
    ("Wheel Rental Hour", "15.00"),
    ("Kiln Firing Fee", "9.50"),
    ("Apron", "26.00"),
    ("Gift Card $50", "50.00"),
    ("Gift Card $100", "100.00"),
    ("Private Session", "95.00"),
    ("Couples Workshop", "120.00"),
    ("Kids Clay Camp", "210.00"),
    ("Tote Bag", "19.00"),
    ("Essential Oil Blend", "16.00"),
    ("Bolster Pillow", "44.00"),
    ("Sketchbook", "14.25"),
    ("Brush Set", "31.00"),
    ("Watercolor Palette", "27.50"),
    ("Teacher Training Deposit", "500.00"),
    ("Retreat Deposit", "350.00"),
    ("Towel Rental", "3.00"),
    ("Late Cancellation Fee", "10.00"),
)
SESSION_HOURS = ((7, 0), (9, 30), (12, 0), (17, 30), (18, 0), (19, 15))


@dataclass(frozen=True)
class WixDataset:
    """Everything one emulated Wix site knows, already in Wix wire format."""

    contacts: tuple[dict, ...]
    sessions: tuple[dict, ...]
    bookings: tuple[dict, ...]
    subscriptions: tuple[dict, ...]
    orders: tuple[dict, ...]


def session_participants(dataset: WixDataset) -> dict[str, list[dict]]:
    """Participants per session id, in booking order, as the ALL_PI fieldset shows them.

    Cancelled and waitlisted bookings hold no seat, so they are not participants.
    """
    participants: dict[str, list[dict]] = {}
    for booking in dataset.bookings:
        approval = PARTICIPANT_APPROVAL.get(booking["status"])
        if approval:
            details = booking["contactDetails"]
            participants.setdefault(booking["bookedEntity"]["slot"]["sessionId"], []).append(
                {
                    "id": booking["id"],
                    "contactId": details["contactId"],
                    "name": f"{details['firstName']} {details['lastName']}",
                    "email": details["email"],
                    "partySize": 1,
                    "approvalStatus": approval,
                }
            )
    return participants


def iso(moment: datetime) -> str:
    """Format like Wix: UTC, millisecond precision, ``Z`` suffix."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def prune(value: Any) -> Any:
    """Drop default values recursively, because Wix never serialises them."""
    if isinstance(value, dict):
        pruned = {key: prune(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if not _is_default(item)}
    if isinstance(value, list):
        return [item for item in map(prune, value) if not _is_default(item)]
    return value


def _is_default(value: Any) -> bool:
    if value is None or value is False or value == "":
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, (list, dict)) and not value


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([value for value, _ in table], weights=[w for _, w in table])[0]


def _slug(name: str) -> str:
    """ASCII local part for an email: "Tomás O'Brien" gives "tomas" and "obrien"."""
    return re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", name).lower())


def _money(amount: Decimal) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "formattedAmount": f"${amount:,.2f}"}


def generate_dataset(
    seed: int = 1, contacts: int = 300, *, per_contact: int | None = None
) -> WixDataset:
    """Build a studio's worth of Wix data; identical output for identical arguments.
    `per_contact` gives every contact that many bookings and orders (the shape of the
    request benchmark) instead of a studio's spread."""
    rng = random.Random(seed)
    products = [(_guid(rng), name, Decimal(price)) for name, price in PRODUCTS]
    sessions = _sessions(rng)
    people = [_contact(rng, index, contacts) for index in range(contacts)]
    bookings = _bookings(rng, people, sessions, per_contact)
    subscriptions = [_subscription(rng, person) for person in people if rng.random() < 0.85]
    orders = _orders(rng, people, products, per_contact)
    return WixDataset(
        contacts=tuple(prune(person) for person in people),
        sessions=tuple(prune(session) for session in sessions),
        bookings=tuple(prune(booking) for booking in bookings),
        subscriptions=tuple(prune(item) for item in subscriptions),
        orders=tuple(prune(order) for order in orders),
    )


def _sessions(rng: random.Random) -> list[dict]:
    """Calendar sessions spread from three weeks before to ten weeks after the anchor."""
    classes: list[dict[str, Any]] = [
        {
            "title": title,
            "minutes": minutes,
            "serviceId": _guid(rng),
            "scheduleId": _guid(rng),
            "capacity": rng.randint(8, 20),
        }
        for title, minutes in CLASSES
    ]
    sessions: list[dict[str, Any]] = []
    for _ in range(SESSION_COUNT):
        kind = rng.choice(classes)
        hour, minute = rng.choice(SESSION_HOURS)
        day = ANCHOR.replace(hour=hour, minute=minute) + timedelta(days=rng.randint(-20, 70))
        sessions.append(
            {
                "id": _guid(rng),
                "scheduleId": kind["scheduleId"],
                "scheduleOwnerId": kind["serviceId"],
                "start": {"timestamp": iso(day)},
                "end": {"timestamp": iso(day + timedelta(minutes=kind["minutes"]))},
                "title": kind["title"],
                "capacity": kind["capacity"],
                "remainingCapacity": kind["capacity"],
                "totalNumberOfParticipants": 0,
                "status": "CANCELLED" if rng.random() < 0.08 else "CONFIRMED",
                "type": "EVENT",
                "version": {"number": 1},
            }
        )
    sessions.sort(key=lambda session: (session["start"]["timestamp"], session["id"]))
    return sessions


def _contact(rng: random.Random, index: int, total: int) -> dict:
    """A contact created strictly after the previous one, within the year before the anchor."""
    span_ms = 360 * 24 * 3600 * 1000
    step_ms = max(span_ms // max(total, 1), 2)
    offset_ms = index * step_ms + rng.randrange(step_ms - 1)
    created = ANCHOR - timedelta(days=400) + timedelta(milliseconds=offset_ms)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    phone = f"+1 555 01{rng.randrange(100):02d}" if rng.random() < 0.75 else None
    updated = created + timedelta(minutes=rng.choice((0, 0, 5, 90, 4000, 40000)))
    return {
        "id": _guid(rng),
        "revision": 1,
        "createdDate": iso(created),
        "updatedDate": iso(updated),
        "info": {"name": {"first": first, "last": last}},
        "primaryInfo": {
            "email": f"{_slug(first)}.{_slug(last)}{index + 1}@example.com",
            "phone": phone,
        },
    }


BOOKINGS_PER_CONTACT = ((0, 10), (1, 25), (2, 30), (3, 20), (4, 8), (5, 5), (6, 2))
BOOKING_STATUSES = (
    ("CONFIRMED", 70),
    ("PENDING", 8),
    ("CREATED", 5),
    ("CANCELED", 10),
    ("DECLINED", 4),
    ("WAITING_LIST", 3),
)


def _bookings(
    rng: random.Random, people: list[dict], sessions: list[dict], per_contact: int | None
) -> list[dict]:
    """Bookings filled in creation order so full sessions push late bookers to the waitlist."""
    drafts = []
    for person in people:
        count = _weighted(rng, BOOKINGS_PER_CONTACT) if per_contact is None else per_contact
        for session in rng.sample(sessions, count):
            start = datetime.fromisoformat(session["start"]["timestamp"])
            booked = start - timedelta(minutes=rng.randint(60, 20 * 24 * 60))
            status = _weighted(rng, BOOKING_STATUSES)
            drafts.append((iso(booked), _guid(rng), person, session, status))
    drafts.sort(key=lambda draft: (draft[0], draft[1]))
    bookings = []
    for created, booking_id, person, session, status in drafts:
        if session["status"] == "CANCELLED":
            status = "CANCELED"
        elif status in ACTIVE_BOOKING_STATUSES:
            if session["totalNumberOfParticipants"] >= session["capacity"]:
                status = "WAITING_LIST"
            else:
                session["totalNumberOfParticipants"] += 1
                session["remainingCapacity"] -= 1
        bookings.append(_booking(rng, booking_id, created, person, session, status))
    return bookings


def _booking(
    rng: random.Random, booking_id: str, created: str, person: dict, session: dict, status: str
) -> dict:
    if status == "CONFIRMED":
        payment = _weighted(rng, (("PAID", 60), ("NOT_PAID", 15), ("EXEMPT", 25)))
    elif status == "CANCELED":
        payment = rng.choice(("REFUNDED", "NOT_PAID"))
    else:
        payment = "NOT_PAID"
    settled = status not in ("CREATED", "PENDING", "WAITING_LIST")
    delay = timedelta(minutes=rng.randint(1, 600) if settled else 0)
    updated = datetime.fromisoformat(created) + delay
    primary = person["primaryInfo"]
    return {
        "id": booking_id,
        "status": status,
        "paymentStatus": payment,
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
            "contactId": person["id"],
            "firstName": person["info"]["name"]["first"],
            "lastName": person["info"]["name"]["last"],
            "email": primary["email"],
            "phone": primary["phone"],
        },
        "totalParticipants": 1,
        "createdDate": created,
        "updatedDate": iso(updated),
        "revision": "1",
    }


SUBSCRIPTION_STATUSES = (("SUBSCRIBED", 60), ("UNSUBSCRIBED", 15), ("PENDING", 10), ("NOT_SET", 15))


def _subscription(rng: random.Random, person: dict) -> dict:
    created = datetime.fromisoformat(person["createdDate"]) + timedelta(seconds=rng.randint(1, 120))
    return {
        "id": _guid(rng),
        "email": person["primaryInfo"]["email"],
        "subscriptionStatus": _weighted(rng, SUBSCRIPTION_STATUSES),
        "deliverabilityStatus": "VALID",
        "createdDate": iso(created),
        "updatedDate": iso(created + timedelta(days=rng.randint(0, 200))),
    }


REFUNDS = ("FULLY_REFUNDED", "PARTIALLY_REFUNDED")
REFUND_DELAY = timedelta(days=2, hours=3)
ORDERS_PER_CONTACT = ((0, 35), (1, 35), (2, 20), (3, 10))
PAYMENT_STATUSES = (
    ("PAID", 70),
    ("NOT_PAID", 8),
    ("PENDING", 7),
    ("PARTIALLY_PAID", 5),
    ("FULLY_REFUNDED", 6),
    ("PARTIALLY_REFUNDED", 4),
)


def _orders(
    rng: random.Random, people: list[dict], products: list[tuple], per_contact: int | None
) -> list[dict]:
    """Store orders placed after signup; numbers follow creation order like a real store."""
    orders = []
    for person in people:
        joined = datetime.fromisoformat(person["createdDate"])
        window = int((ANCHOR - joined).total_seconds() // 60)
        count = _weighted(rng, ORDERS_PER_CONTACT) if per_contact is None else per_contact
        for _ in range(count):
            created = joined + timedelta(minutes=rng.randint(10, window))
            orders.append(_order(rng, person, created, products))
    orders.sort(key=lambda order: (order["createdDate"], order["id"]))
    for position, order in enumerate(orders):
        order["number"] = str(10001 + position)
    return orders


def _order(rng: random.Random, person: dict, created: datetime, products: list[tuple]) -> dict:
    line_items = []
    for product_id, name, price in rng.sample(products, rng.choice((1, 1, 1, 2))):
        quantity = rng.choice((1, 1, 1, 2))
        line_items.append(
            {
                "id": _guid(rng),
                "productName": {"original": name},
                "catalogReference": {"catalogItemId": product_id, "appId": ECOM_APP_ID},
                "quantity": quantity,
                "price": _money(price),
                "totalPriceAfterTax": _money(price * quantity),
            }
        )
    purchased = created + timedelta(seconds=rng.randint(1, 90))
    order = {
        "id": _guid(rng),
        "number": "",
        "createdDate": iso(created),
        "purchasedDate": iso(purchased),
        "updatedDate": "",
        "status": "CANCELED" if rng.random() < 0.07 else "APPROVED",
        "paymentStatus": _weighted(rng, PAYMENT_STATUSES),
        "currency": "USD",
        "buyerInfo": {"contactId": person["id"], "email": person["primaryInfo"]["email"]},
        "lineItems": line_items,
    }
    # Refunds and cancellations come later than the purchase (fixed delays: the same rng
    # draws as before updatedDate existed, so every other value is unchanged).
    settled = order["status"] == "CANCELED" or order["paymentStatus"] in REFUNDS
    order["updatedDate"] = iso(purchased + (REFUND_DELAY if settled else timedelta(0)))
    return order
