"""The Wix emulator's data changing while it runs (`POST /__mutate`), seen over HTTP
through Wix's own listings and their `updatedDate` queries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from server.providers.wix.emulated.dataset import WixDataset, generate_dataset, iso
from server.providers.wix.emulated.emulator import WixEmulator, create_emulator

API_KEY = "IST.test-key"
SITE_ID = "2d4c7f9e-0000-4000-8000-000000000001"
HEADERS = {"Authorization": API_KEY, "wix-site-id": SITE_ID}
CONTACTS = "/contacts/v4/contacts/query"
SESSIONS = "/bookings/v2/calendar/sessions/query"
BOOKINGS = "/_api/bookings-reader/v2/extended-bookings/query"
SUBSCRIPTIONS = "/email-marketing/v1/email-subscriptions/query"
ORDERS = "/ecom/v1/orders/search"
BY_UPDATE = [{"fieldName": "updatedDate", "order": "ASC"}]


class Clock:
    """A wall clock that moves only when a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def dataset() -> WixDataset:
    return generate_dataset(seed=11, contacts=60)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 6, 1, 12, 0, 0, 123_456, tzinfo=UTC))


@pytest.fixture
def emulator(dataset: WixDataset, clock: Clock) -> WixEmulator:
    return create_emulator(dataset, api_key=API_KEY, site_id=SITE_ID, now=clock)


@pytest.fixture
async def client(emulator: WixEmulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://wix", headers=HEADERS
    ) as http:
        yield http


async def mutate(client: httpx.AsyncClient, **change: Any) -> dict[str, Any]:
    response = await client.post("/__mutate", json=change)
    assert response.status_code == 200, response.text
    return response.json()


async def listed(
    client: httpx.AsyncClient, path: str, wrapper: str, items: str, body: dict | None = None
) -> list[dict]:
    """Every row of a cursor-paged listing, following its cursors."""
    query = {**(body or {}), "cursorPaging": {"limit": 7}}
    rows: list[dict] = []
    block = "metadata" if path == ORDERS else "pagingMetadata"
    while True:
        payload = (await client.post(path, json={wrapper: query})).json()
        rows.extend(payload[items])
        cursor = payload[block].get("cursors", {}).get("next")
        if not cursor:
            return rows
        query = {"cursorPaging": {"limit": 7, "cursor": cursor}}


async def changed_since(
    client: httpx.AsyncClient, path: str, watermark: str, wrapper: str = "query"
) -> list[dict]:
    """What changed after `watermark`, in the order it changed: Wix's updatedDate query."""
    items = {CONTACTS: "contacts", BOOKINGS: "extendedBookings", ORDERS: "orders"}[path]
    body = {"filter": {"updatedDate": {"$gt": watermark}}, "sort": BY_UPDATE}
    rows = await listed(client, path, wrapper, items, body)
    return [row["booking"] if path == BOOKINGS else row for row in rows]


def newest(dataset: WixDataset) -> str:
    """The watermark a client holds after reading everything the site shows."""
    rows = (*dataset.contacts, *dataset.bookings, *dataset.subscriptions, *dataset.orders)
    return max(row["updatedDate"] for row in rows)


async def test_mutate_needs_the_sites_credentials_and_answers_in_wixs_envelope(
    emulator: WixEmulator,
) -> None:
    transport = httpx.ASGITransport(app=emulator.app)
    change = {"kind": "participant", "op": "add", "name": "Ada Lovelace"}
    async with httpx.AsyncClient(transport=transport, base_url="http://wix") as bare:
        anonymous = await bare.post("/__mutate", json=change)
        other_site = await bare.post(
            "/__mutate", json=change, headers={"Authorization": API_KEY, "wix-site-id": "x"}
        )
    assert anonymous.status_code == 401
    assert anonymous.json()["details"]["applicationError"]["code"] == "UNAUTHENTICATED"
    assert other_site.status_code == 403
    assert emulator.dataset.contacts == generate_dataset(seed=11, contacts=60).contacts
    assert emulator.total_requests == 0  # not a provider endpoint: not counted


async def test_an_added_contact_is_listed_created_and_updated_at_the_change_and_nothing_else_is(
    client: httpx.AsyncClient, emulator: WixEmulator, dataset: WixDataset, clock: Clock
) -> None:
    watermark = newest(dataset)
    done = await mutate(
        client, kind="participant", op="add", name="Ada King Lovelace", email="Ada@Example.com"
    )
    stamp = "2026-06-01T12:00:00.123Z"
    assert done["at"] == stamp and done["kind"] == "participant" and done["op"] == "add"
    assert done["touched"] == [
        {"kind": "participant", "op": "add", "id": done["id"], "resource": "contact"}
    ]
    contact = done["record"]
    assert contact["info"]["name"] == {"first": "Ada", "last": "King Lovelace"}
    assert contact["primaryInfo"] == {"email": "ada@example.com"}
    assert contact["createdDate"] == contact["updatedDate"] == stamp
    contacts = await listed(client, CONTACTS, "query", "contacts")
    assert contacts == [*dataset.contacts, contact]  # the newest contact comes last
    assert await changed_since(client, CONTACTS, watermark) == [contact]
    fetched = await client.get(f"/contacts/v4/contacts/{contact['id']}")
    assert fetched.json() == {"contact": contact}


async def test_a_contacts_name_change_and_consent_change_are_each_seen_by_updated_date_queries(
    client: httpx.AsyncClient, dataset: WixDataset, clock: Clock
) -> None:
    subscribed = dataset.subscriptions[0]
    owner = next(c for c in dataset.contacts if c["primaryInfo"]["email"] == subscribed["email"])
    other = next(
        c
        for c in dataset.contacts
        if all(s["email"] != c["primaryInfo"]["email"] for s in dataset.subscriptions)
    )
    watermark = newest(dataset)
    renamed = await mutate(client, kind="participant", op="change", id=owner["id"], name="Jo Doe")
    clock.now += timedelta(seconds=5)
    status = "UNSUBSCRIBED" if subscribed["subscriptionStatus"] != "UNSUBSCRIBED" else "SUBSCRIBED"
    withdrawn = await mutate(
        client, kind="participant", op="change", id=owner["id"], subscriptionStatus=status
    )
    granted = await mutate(
        client, kind="participant", op="change", id=other["id"], subscriptionStatus="SUBSCRIBED"
    )
    assert renamed["record"]["revision"] == owner["revision"] + 1
    assert renamed["record"]["createdDate"] == owner["createdDate"]
    assert [c["id"] for c in await changed_since(client, CONTACTS, watermark)] == [owner["id"]]
    assert withdrawn["touched"] == [
        {"kind": "participant", "op": "change", "id": owner["id"], "resource": "subscription"}
    ]
    assert granted["touched"][0]["op"] == "add"
    body = {"filter": {"updatedDate": {"$gt": watermark}}, "sort": BY_UPDATE}
    since = (await client.post(SUBSCRIPTIONS, json=body)).json()["subscriptions"]
    assert [(s["email"], s["subscriptionStatus"]) for s in since] == [
        (subscribed["email"], status),
        (other["primaryInfo"]["email"], "SUBSCRIBED"),
    ]
    assert since[0]["updatedDate"] == iso(clock.now) and since[0]["id"] == subscribed["id"]
    assert since[1]["createdDate"] == since[1]["updatedDate"] > since[0]["updatedDate"]


async def test_bookings_added_changed_and_removed_show_in_the_listing_of_all_bookings_and_seats(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    contact = dataset.contacts[5]
    session = next(
        s for s in dataset.sessions if s["status"] == "CONFIRMED" and s.get("remainingCapacity")
    )
    existing = next(
        b for b in dataset.bookings if b["bookedEntity"]["slot"]["sessionId"] != session["id"]
    )
    watermark = newest(dataset)
    added = await mutate(
        client, kind="registration", op="add", participant=contact["id"], session=session["id"]
    )
    booking = added["record"]
    assert booking["status"] == "CONFIRMED"
    assert booking["contactDetails"]["contactId"] == contact["id"]
    assert booking["bookedEntity"]["slot"]["sessionId"] == session["id"]
    cancelled = await mutate(
        client, kind="registration", op="change", id=booking["id"], status="CANCELED"
    )
    assert cancelled["record"]["revision"] == "2"
    await mutate(client, kind="registration", op="remove", id=existing["id"])

    since = await changed_since(client, BOOKINGS, watermark)
    assert [(b["id"], b["status"]) for b in since] == [(booking["id"], "CANCELED")]
    assert since[0]["createdDate"] == added["at"] and since[0]["updatedDate"] == cancelled["at"]
    rows = await listed(client, BOOKINGS, "query", "extendedBookings")
    everything = [row["booking"]["id"] for row in rows]
    assert existing["id"] not in everything and booking["id"] in everything
    assert len(everything) == len(dataset.bookings)

    again = await mutate(
        client, kind="registration", op="add", participant=contact["id"], session=session["id"]
    )
    query = {"query": {"fieldsets": ["ALL_PI"], "cursorPaging": {"limit": 1000}}}
    sessions = (await client.post(SESSIONS, json=query)).json()["sessions"]
    shown = next(s for s in sessions if s["id"] == session["id"])
    assert again["id"] in {p["id"] for p in shown["participants"]}
    assert shown.get("remainingCapacity", 0) == session["remainingCapacity"] - 1


async def test_orders_added_paid_and_removed_are_seen_by_updated_date_searches(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    contact, old = dataset.contacts[7], dataset.orders[3]
    watermark = newest(dataset)
    product = dataset.orders[0]["lineItems"][0]["catalogReference"]["catalogItemId"]
    bought = await mutate(
        client,
        kind="purchase",
        op="add",
        participant=contact["id"],
        product=product,
        quantity=2,
        paymentStatus="NOT_PAID",
    )
    order = bought["record"]
    line = order["lineItems"][0]
    assert line["catalogReference"]["catalogItemId"] == product and line["quantity"] == 2
    assert order["buyerInfo"]["contactId"] == contact["id"]
    assert int(order["number"]) == max(int(o["number"]) for o in dataset.orders) + 1
    paid = await mutate(client, kind="purchase", op="change", id=old["id"], paymentStatus="PAID")
    await mutate(client, kind="purchase", op="remove", id=dataset.orders[4]["id"])
    since = await changed_since(client, ORDERS, watermark, wrapper="search")
    assert [(o["id"], o["paymentStatus"]) for o in since] == [
        (order["id"], "NOT_PAID"),
        (old["id"], "PAID"),
    ]
    assert since[1]["updatedDate"] == paid["at"] and since[1]["createdDate"] == old["createdDate"]
    ids = {o["id"] for o in await listed(client, ORDERS, "search", "orders")}
    assert dataset.orders[4]["id"] not in ids and len(ids) == len(dataset.orders)


async def test_a_removed_contact_takes_their_bookings_orders_and_subscription_with_them(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    def owns(contact: dict) -> tuple[int, int, int]:
        email = contact["primaryInfo"]["email"]
        return (
            sum(b["contactDetails"]["contactId"] == contact["id"] for b in dataset.bookings),
            sum(o["buyerInfo"]["contactId"] == contact["id"] for o in dataset.orders),
            sum(s["email"] == email for s in dataset.subscriptions),
        )

    contact = next(c for c in dataset.contacts if all(owns(c)))
    done = await mutate(client, kind="participant", op="remove", id=contact["id"])
    bookings, orders, _ = owns(contact)
    kinds = [(t["kind"], t["op"], t["resource"]) for t in done["touched"]]
    assert kinds == [
        ("participant", "remove", "contact"),
        *[("registration", "remove", "booking")] * bookings,
        *[("purchase", "remove", "order")] * orders,
    ]
    contacts = await listed(client, CONTACTS, "query", "contacts")
    assert contact["id"] not in {c["id"] for c in contacts}
    theirs = {"contactDetails.contactId": {"$in": [contact["id"]]}}
    assert await listed(client, BOOKINGS, "query", "extendedBookings", {"filter": theirs}) == []
    buyer = {"buyerInfo.contactId": {"$in": [contact["id"]]}}
    assert await listed(client, ORDERS, "search", "orders", {"filter": buyer}) == []
    email = {"filter": {"email": {"$in": [contact["primaryInfo"]["email"]]}}}
    assert (await client.post(SUBSCRIPTIONS, json=email)).json()["subscriptions"] == []
    missing = await client.get(f"/contacts/v4/contacts/{contact['id']}")
    assert missing.status_code == 404


async def test_changes_on_a_clock_that_stands_still_or_lags_the_data_are_still_strictly_later(
    dataset: WixDataset,
) -> None:
    clock = Clock(datetime(2020, 1, 1, tzinfo=UTC))  # before everything the site shows
    emulator = create_emulator(dataset, api_key=API_KEY, site_id=SITE_ID, now=clock)
    change = {"kind": "participant", "op": "change", "id": dataset.contacts[0]["id"]}
    stamps = [emulator.mutate({**change, "phone": f"+1 555 02{n:02d}"})["at"] for n in range(5)]
    assert stamps == sorted(set(stamps)) and stamps[0] > newest(dataset)
    clock.now = datetime(2030, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC)
    assert emulator.mutate({**change, "phone": "+1 555 0300"})["at"] == "2030-01-01T00:00:00.999Z"
    assert emulator.mutate({**change, "phone": "+1 555 0301"})["at"] == "2030-01-01T00:00:01.000Z"


async def test_an_updated_date_query_paged_while_records_change_skips_none_of_the_others(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    body = {"query": {"sort": BY_UPDATE, "cursorPaging": {"limit": 10}}}
    first = (await client.post(CONTACTS, json=body)).json()
    seen = [c["id"] for c in first["contacts"]]
    # Records already read move (an update sends one to the end) or go away.
    await mutate(client, kind="participant", op="change", id=seen[0], name="Moved Along")
    await mutate(client, kind="participant", op="remove", id=seen[1])
    cursor = first["pagingMetadata"]["cursors"]["next"]
    while cursor:
        page = (
            await client.post(CONTACTS, json={"query": {"cursorPaging": {"cursor": cursor}}})
        ).json()
        seen += [c["id"] for c in page["contacts"]]
        cursor = page["pagingMetadata"].get("cursors", {}).get("next")
    assert {c["id"] for c in dataset.contacts} <= set(seen)
    assert seen.count(seen[0]) == 2  # read again where it moved to


async def test_date_conditions_compare_moments_whatever_the_precision_of_the_watermark(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    contact = next(c for c in dataset.contacts if not c["updatedDate"].endswith(".000Z"))
    whole_second = contact["updatedDate"][:19] + "Z"  # 09:00:00Z, before 09:00:00.123Z
    body = {"query": {"filter": {"updatedDate": {"$gt": whole_second}}, "sort": BY_UPDATE}}
    rows = (await client.post(CONTACTS, json=body)).json()["contacts"]
    assert rows[0]["id"] == contact["id"]  # as text, "….123Z" sorts before "…Z"
    offset = whole_second.replace("Z", "+00:00")
    same = {"query": {"filter": {"updatedDate": {"$gt": offset}}, "sort": BY_UPDATE}}
    assert (await client.post(CONTACTS, json=same)).json()["contacts"] == rows


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"kind": "course", "op": "add"}, 400, None),
        ({"kind": "participant", "op": "rename", "id": "x"}, 400, None),
        ({"kind": "participant", "op": "change"}, 400, None),
        ({"kind": "participant", "op": "add", "nickname": "Al"}, 400, None),
        ({"kind": "participant", "op": "change", "id": "nobody", "name": "A B"}, 404, "NOT_FOUND"),
        ({"kind": "registration", "op": "change", "id": "none", "status": "CONFIRMED"}, 404, None),
        ({"kind": "purchase", "op": "change", "id": "none", "paymentStatus": "SOON"}, 400, None),
    ],
)
async def test_malformed_changes_are_validation_errors_and_unknown_records_not_found(
    client: httpx.AsyncClient, change: dict, status: int, field: str | None
) -> None:
    response = await client.post("/__mutate", json=change)
    assert response.status_code == status, response.text
    details = response.json()["details"]
    if status == 400:
        assert details["validationError"]["fieldViolations"][0]["description"]
    else:
        assert details["applicationError"]["code"] == "NOT_FOUND"


async def test_a_taken_email_and_a_second_booking_of_the_same_session_are_conflicts(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    taken = dataset.contacts[2]["primaryInfo"]["email"].upper()
    duplicate = await client.post(
        "/__mutate", json={"kind": "participant", "op": "add", "email": taken}
    )
    booking = next(b for b in dataset.bookings if b["status"] == "CONFIRMED")
    again = {
        "kind": "registration",
        "op": "add",
        "participant": booking["contactDetails"]["contactId"],
        "session": booking["bookedEntity"]["slot"]["sessionId"],
    }
    twice = await client.post("/__mutate", json=again)
    assert duplicate.status_code == twice.status_code == 409


async def test_the_python_api_answers_as_http_does_and_leaves_the_data_set_passed_in_alone(
    emulator: WixEmulator, dataset: WixDataset
) -> None:
    before = generate_dataset(seed=11, contacts=60)
    done = emulator.mutate(
        {"kind": "participant", "op": "add", "name": "Grace Hopper", "session": None}
    )
    emulator.mutate({"kind": "participant", "op": "remove", "id": dataset.contacts[0]["id"]})
    assert done["record"] in emulator.dataset.contacts
    assert dataset == before


async def test_mounted_where_the_demo_mounts_it_the_emulator_takes_changes_under_its_prefix(
    emulator: WixEmulator,
) -> None:
    outer = Starlette(routes=[Mount("/_emulators/wix", app=emulator.app)])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as http:
        change = {"kind": "participant", "op": "add", "name": "Demo Visitor"}
        done = await http.post("/_emulators/wix/__mutate", json=change, headers=HEADERS)
        refused = await http.post("/_emulators/wix/__mutate", json=change)
        body = {"query": {"filter": {"id": done.json()["id"]}}}
        found = await http.post(f"/_emulators/wix{CONTACTS}", json=body, headers=HEADERS)
    assert done.status_code == 200 and refused.status_code == 401
    assert [c["info"]["name"]["first"] for c in found.json()["contacts"]] == ["Demo"]
