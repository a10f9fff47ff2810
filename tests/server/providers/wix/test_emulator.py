"""Behaviour of the Wix emulator and its generated data, checked over real HTTP calls."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from server.providers.emulated import emulation
from server.providers.emulated.emulation import Faults
from server.providers.wix.emulated.dataset import WixDataset, generate_dataset
from server.providers.wix.emulated.emulator import WixEmulator, create_emulator
from tests.loop_lag import HeldSleeps

API_KEY = "IST.test-key"
SITE_ID = "2d4c7f9e-0000-4000-8000-000000000001"
HEADERS = {"Authorization": API_KEY, "wix-site-id": SITE_ID}
CONTACTS = "/contacts/v4/contacts/query"
SESSIONS = "/bookings/v2/calendar/sessions/query"
BOOKINGS = "/_api/bookings-reader/v2/extended-bookings/query"
SUBSCRIPTIONS = "/email-marketing/v1/email-subscriptions/query"
ORDERS = "/ecom/v1/orders/search"


@pytest.fixture(scope="module")
def dataset() -> WixDataset:
    return generate_dataset(seed=7, contacts=120)


@pytest.fixture
def emulator(dataset: WixDataset) -> WixEmulator:
    return create_emulator(dataset, api_key=API_KEY, site_id=SITE_ID)


@pytest.fixture
async def client(emulator: WixEmulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://wix", headers=HEADERS
    ) as http:
        yield http


def find_defaults(value: Any, path: str = "$") -> list[str]:
    """Paths of values Wix would have omitted: empty lists/dicts/strings, false, null."""
    if value is None or value is False or value == "" or value == [] or value == {}:
        return [path]
    if isinstance(value, dict):
        return [hit for key, item in value.items() for hit in find_defaults(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [
            hit
            for index, item in enumerate(value)
            for hit in find_defaults(item, f"{path}[{index}]")
        ]
    return []


async def fetch_all(
    client: httpx.AsyncClient,
    path: str,
    body: dict,
    wrapper: str,
    items: str,
    block: str = "pagingMetadata",
) -> tuple[list[dict], list[dict]]:
    """Follow cursors the Wix way (later pages send only the cursor); return items, blocks."""
    rows: list[dict] = []
    blocks: list[dict] = []
    request, limit = body, body[wrapper]["cursorPaging"]["limit"]
    while True:
        response = await client.post(path, json=request)
        assert response.status_code == 200, response.text
        payload = response.json()
        rows.extend(payload[items])
        blocks.append(payload[block])
        cursor = payload[block].get("cursors", {}).get("next")
        if not cursor:
            return rows, blocks
        request = {wrapper: {"cursorPaging": {"limit": limit, "cursor": cursor}}}


async def test_raw_api_key_is_accepted_and_bearer_prefixed_key_is_unauthenticated(
    client: httpx.AsyncClient,
) -> None:
    accepted = await client.post(CONTACTS, json={"query": {"cursorPaging": {"limit": 1}}})
    assert accepted.status_code == 200 and len(accepted.json()["contacts"]) == 1
    headers = {"Authorization": f"Bearer {API_KEY}", "wix-site-id": SITE_ID}
    response = await client.post(CONTACTS, json={}, headers=headers)
    assert response.status_code == 401
    assert response.json()["details"]["applicationError"]["code"] == "UNAUTHENTICATED"


async def test_missing_site_id_with_valid_key_is_permission_denied(emulator: WixEmulator) -> None:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wix") as bare:
        response = await bare.post(CONTACTS, json={}, headers={"Authorization": API_KEY})
        missing_key = await bare.post(CONTACTS, json={}, headers={"wix-site-id": SITE_ID})
    assert response.status_code == 403
    assert response.json()["details"]["applicationError"]["code"] == "PERMISSION_DENIED"
    assert missing_key.status_code == 401


async def test_query_contacts_pages_with_cursor_until_has_next_is_false(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    body = {"query": {"cursorPaging": {"limit": 25}}}
    rows, blocks = await fetch_all(client, CONTACTS, body, "query", "contacts")
    ids = [row["id"] for row in rows]
    assert sorted(ids) == sorted(contact["id"] for contact in dataset.contacts)
    assert [row["createdDate"] for row in rows] == sorted(row["createdDate"] for row in rows)
    assert all(block["hasNext"] is True for block in blocks[:-1])
    assert blocks[-1] == {"count": len(dataset.contacts) % 25 or 25}


async def test_responses_omit_default_values_like_wix(client: httpx.AsyncClient) -> None:
    requests = [
        (CONTACTS, {"query": {"cursorPaging": {"limit": 1000}}}),
        (SESSIONS, {"query": {"fieldsets": ["ALL_PI"], "cursorPaging": {"limit": 1000}}}),
        (BOOKINGS, {"query": {"cursorPaging": {"limit": 100}}}),
        (SUBSCRIPTIONS, {"paging": {"limit": 1000, "offset": 1}}),
        (ORDERS, {"search": {"cursorPaging": {"limit": 100}}}),
    ]
    for path, body in requests:
        response = await client.post(path, json=body)
        assert response.status_code == 200
        assert find_defaults(response.json()) == [], path
    contacts = (await client.post(CONTACTS, json={})).json()["contacts"]
    assert any("phone" not in contact["primaryInfo"] for contact in contacts)


async def test_later_pages_may_resend_the_same_filter_with_the_cursor(
    client: httpx.AsyncClient,
) -> None:
    query = {"filter": {"status": "CONFIRMED"}, "cursorPaging": {"limit": 10}}
    first = (await client.post(BOOKINGS, json={"query": query})).json()
    cursor = first["pagingMetadata"]["cursors"]["next"]
    again = {**query, "cursorPaging": {"limit": 10, "cursor": cursor}}
    second = (await client.post(BOOKINGS, json={"query": again})).json()
    assert second["extendedBookings"]
    assert all(item["booking"]["status"] == "CONFIRMED" for item in second["extendedBookings"])
    first_ids = {item["booking"]["id"] for item in first["extendedBookings"]}
    assert first_ids.isdisjoint(item["booking"]["id"] for item in second["extendedBookings"])


async def test_bookings_in_filter_returns_only_those_contacts_bookings(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    wanted = [contact["id"] for contact in dataset.contacts[:25]]
    body = {
        "query": {
            "filter": {"contactDetails.contactId": {"$in": wanted}},
            "cursorPaging": {"limit": 20},
        }
    }
    rows, _ = await fetch_all(client, BOOKINGS, body, "query", "extendedBookings")
    expected = [b for b in dataset.bookings if b["contactDetails"]["contactId"] in wanted]
    assert [row["booking"]["id"] for row in rows] == [b["id"] for b in expected]
    assert len(expected) > 20


async def test_orders_in_filter_returns_only_those_buyers_orders(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    wanted = [contact["id"] for contact in dataset.contacts[10:40]]
    body = {
        "search": {"filter": {"buyerInfo.contactId": {"$in": wanted}}, "cursorPaging": {"limit": 7}}
    }
    rows, blocks = await fetch_all(client, ORDERS, body, "search", "orders", block="metadata")
    expected = {o["id"] for o in dataset.orders if o["buyerInfo"]["contactId"] in wanted}
    assert {row["id"] for row in rows} == expected
    assert len(blocks) > 1 and "hasNext" not in blocks[-1]
    amount = rows[0]["lineItems"][0]["price"]["amount"]
    assert amount.count(".") == 1 and len(amount.split(".")[1]) == 2


async def test_and_or_and_comparison_operators_combine(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    pivot = dataset.contacts[50]["createdDate"]
    names = ["Ava", "Liam"]
    either = [{"info.name.first": {"$in": names}}, {"primaryInfo.phone": {"$ne": None}}]
    flt = {"$and": [{"createdDate": {"$gte": pivot}}, {"$or": either}]}
    body = {"query": {"filter": flt, "cursorPaging": {"limit": 1000}}}
    contacts = (await client.post(CONTACTS, json=body)).json()["contacts"]
    expected = [
        c["id"]
        for c in dataset.contacts
        if c["createdDate"] >= pivot
        and (c["info"]["name"]["first"] in names or "phone" in c["primaryInfo"])
    ]
    assert [c["id"] for c in contacts] == expected


async def test_unknown_operator_and_oversized_in_list_are_rejected(
    client: httpx.AsyncClient,
) -> None:
    regex = {"query": {"filter": {"info.name.first": {"$regex": "^A"}}}}
    ids = [str(number) for number in range(101)]
    too_many = {"search": {"filter": {"buyerInfo.contactId": {"$in": ids}}}}
    assert (await client.post(CONTACTS, json=regex)).status_code == 400
    response = await client.post(ORDERS, json=too_many)
    assert response.status_code == 400
    violation = response.json()["details"]["validationError"]["fieldViolations"][0]
    assert violation["field"] == "search.filter.buyerInfo.contactId"


async def test_subscriptions_email_filter_is_case_insensitive(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    emails = [sub["email"] for sub in dataset.subscriptions[:3]]
    body = {"filter": {"email": {"$in": [e.upper() for e in emails]}}, "paging": {"limit": 2}}
    payload = (await client.post(SUBSCRIPTIONS, json=body)).json()
    assert [sub["email"] for sub in payload["subscriptions"]] == emails[:2]
    assert payload["metadata"] == {"count": 2, "offset": 0, "total": 3}


async def test_cursor_reused_with_a_different_filter_is_rejected(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    first = await client.post(CONTACTS, json={"query": {"cursorPaging": {"limit": 5}}})
    cursor = first.json()["pagingMetadata"]["cursors"]["next"]
    other = {"id": {"$in": [dataset.contacts[0]["id"]]}}
    body = {"query": {"filter": other, "cursorPaging": {"limit": 5, "cursor": cursor}}}
    response = await client.post(CONTACTS, json=body)
    assert response.status_code == 400
    violation = response.json()["details"]["validationError"]["fieldViolations"][0]
    assert violation["field"] == "query.cursorPaging.cursor"


async def test_garbage_or_foreign_cursors_are_rejected(client: httpx.AsyncClient) -> None:
    orders = await client.post(ORDERS, json={"search": {"cursorPaging": {"limit": 1}}})
    foreign = orders.json()["metadata"]["cursors"]["next"]
    forged = base64.urlsafe_b64encode(json.dumps({"o": -3}).encode()).decode()
    for cursor in ("not-a-cursor!!", foreign, forged):
        body = {"query": {"cursorPaging": {"limit": 5, "cursor": cursor}}}
        assert (await client.post(CONTACTS, json=body)).status_code == 400, cursor


async def test_limit_above_endpoint_maximum_is_a_validation_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(BOOKINGS, json={"query": {"cursorPaging": {"limit": 101}}})
    assert response.status_code == 400
    violations = response.json()["details"]["validationError"]["fieldViolations"]
    assert violations[0]["field"] == "query.cursorPaging.limit"
    allowed = await client.post(CONTACTS, json={"query": {"cursorPaging": {"limit": 1000}}})
    assert allowed.status_code == 200


async def test_non_json_body_and_over_long_session_window_are_validation_errors(
    client: httpx.AsyncClient,
) -> None:
    not_json = await client.post(ORDERS, content=b"{not json")
    window = {"fromDate": "2025-01-01T00:00:00.000Z", "toDate": "2026-06-01T00:00:00.000Z"}
    too_long = await client.post(SESSIONS, json=window)
    for response in (not_json, too_long):
        assert response.status_code == 400
        assert "validationError" in response.json()["details"]


async def test_all_pi_fieldset_adds_participants_and_no_pi_omits_them(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    paging = {"cursorPaging": {"limit": 1000}}
    plain = (await client.post(SESSIONS, json={"query": paging})).json()["sessions"]
    body = {"query": {**paging, "fieldsets": ["ALL_PI"]}}
    full = (await client.post(SESSIONS, json=body)).json()["sessions"]
    assert all("participants" not in session for session in plain)
    with_people = [session for session in full if "participants" in session]
    assert with_people
    session = with_people[0]
    booking_ids = {
        b["id"] for b in dataset.bookings if b["bookedEntity"]["slot"]["sessionId"] == session["id"]
    }
    assert {p["id"] for p in session["participants"]} <= booking_ids
    assert {p["approvalStatus"] for p in session["participants"]} <= {
        "APPROVED",
        "PENDING",
        "DECLINED",
    }
    starts = [s["start"]["timestamp"] for s in full]
    assert starts == sorted(starts)


async def test_session_date_window_filters_on_start(client: httpx.AsyncClient) -> None:
    body = {
        "fromDate": "2026-01-05T00:00:00.000Z",
        "toDate": "2026-01-20T00:00:00.000Z",
        "query": {"cursorPaging": {"limit": 3}},
    }
    rows, _ = await fetch_all(client, SESSIONS, body, "query", "sessions")
    assert rows and all("2026-01-05" <= s["start"]["timestamp"] < "2026-01-20" for s in rows)


async def test_get_by_id_returns_the_item_and_unknown_session_gives_not_found_body(
    client: httpx.AsyncClient, dataset: WixDataset
) -> None:
    session, contact = dataset.sessions[0], dataset.contacts[3]
    found = await client.get(f"/bookings/v2/calendar/sessions/{session['id']}")
    assert found.json() == {"session": session}
    assert (await client.get(f"/contacts/v4/contacts/{contact['id']}")).json() == {
        "contact": contact
    }
    missing = await client.get("/bookings/v2/calendar/sessions/does-not-exist")
    assert missing.status_code == 404
    error = missing.json()
    assert error["message"] and error["details"]["applicationError"]["code"] == "NOT_FOUND"
    assert set(error["details"]["applicationError"]) == {"code", "description", "data"}


async def test_injected_429_carries_retry_after_and_injected_500_is_internal(
    client: httpx.AsyncClient, emulator: WixEmulator
) -> None:
    emulator.faults.status, emulator.faults.retry_after = 429, 7
    response = await client.post(CONTACTS, json={})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["details"]["applicationError"]["code"] == "RESOURCE_EXHAUSTED"
    assert (await client.post(CONTACTS, json={})).status_code == 429
    emulator.faults.status = 500
    response = await client.post(ORDERS, json={})
    assert response.status_code == 500
    assert response.json()["details"]["applicationError"]["code"] == "INTERNAL"


async def test_fail_next_fails_only_that_many_requests(
    client: httpx.AsyncClient, emulator: WixEmulator
) -> None:
    emulator.faults.status, emulator.faults.fail_next = 500, 2
    statuses = [(await client.post(CONTACTS, json={})).status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]


async def test_malformed_json_fault_answers_200_with_unparseable_body(
    client: httpx.AsyncClient, emulator: WixEmulator
) -> None:
    emulator.faults.malformed_json = True
    response = await client.post(CONTACTS, json={})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_latency_fault_delays_the_answer(
    dataset: WixDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = HeldSleeps(monkeypatch, emulation)  # the emulator's sleeps, held: no clock
    emulator = create_emulator(
        dataset, api_key=API_KEY, site_id=SITE_ID, faults=Faults(latency_seconds=0.2)
    )
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wix") as http:
        answer = asyncio.create_task(http.post(CONTACTS, json={}, headers=HEADERS))
        await sleeps.asked_or_done(answer)
        # Taken, and asleep for the fault's latency: unanswered until the sleep ends.
        assert sleeps.asked == [0.2]
        assert not answer.done() and emulator.served == []
        sleeps.release()
        assert (await answer).status_code == 200
        emulator.faults.latency_seconds = 0.0
        assert (await http.post(CONTACTS, json={}, headers=HEADERS)).status_code == 200
        assert sleeps.asked == [0.2]  # without latency, no sleep


async def test_requests_are_counted_per_endpoint_including_failures(
    client: httpx.AsyncClient, emulator: WixEmulator, dataset: WixDataset
) -> None:
    await client.post(CONTACTS, json={})
    await client.post(CONTACTS, json={}, headers={"Authorization": "wrong"})
    await client.get(f"/contacts/v4/contacts/{dataset.contacts[0]['id']}")
    await client.post(SESSIONS, json={})
    await client.get("/bookings/v2/calendar/sessions/unknown")
    await client.post(BOOKINGS, json={})
    await client.post(SUBSCRIPTIONS, json={})
    await client.post(ORDERS, json={})
    assert emulator.requests == {
        "contacts.query": 2,
        "contacts.get": 1,
        "sessions.query": 1,
        "sessions.get": 1,
        "bookings.query": 1,
        "subscriptions.query": 1,
        "orders.search": 1,
    }
    assert emulator.total_requests == 8
    emulator.reset_counts()
    assert emulator.total_requests == 0


async def test_emulator_mounted_under_a_prefix_serves_contacts_and_wix_style_404s(
    emulator: WixEmulator,
) -> None:
    outer = Starlette(routes=[Mount("/_emulators/wix", app=emulator.app)])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url="http://wix") as http:
        body = {"query": {"cursorPaging": {"limit": 2}}}
        response = await http.post(f"/_emulators/wix{CONTACTS}", json=body, headers=HEADERS)
        missing = await http.post("/_emulators/wix/nothing", json={}, headers=HEADERS)
        wrong_method = await http.get(f"/_emulators/wix{ORDERS}", headers=HEADERS)
    assert response.status_code == 200 and wrong_method.status_code == 405
    assert len(response.json()["contacts"]) == 2
    assert missing.status_code == 404
    assert missing.json()["details"]["applicationError"]["code"] == "NOT_FOUND"
    assert emulator.requests["contacts.query"] == 1


def test_dataset_is_deterministic_for_a_seed_and_differs_for_another() -> None:
    first, again, other = generate_dataset(3, 60), generate_dataset(3, 60), generate_dataset(4, 60)
    assert json.dumps(first.__dict__) == json.dumps(again.__dict__)
    assert first.contacts != other.contacts and first.orders != other.orders


def test_dataset_is_realistic_and_internally_consistent() -> None:
    data = generate_dataset()
    assert len(data.contacts) == 300 and 35 <= len(data.sessions) <= 45
    created = [contact["createdDate"] for contact in data.contacts]
    assert created == sorted(set(created))
    emails = [contact["primaryInfo"]["email"] for contact in data.contacts]
    assert len(set(emails)) == len(emails) and all(email == email.lower() for email in emails)
    sessions = {session["id"]: session for session in data.sessions}
    for booking in data.bookings:
        slot = booking["bookedEntity"]["slot"]
        assert slot["startDate"] == sessions[slot["sessionId"]]["start"]["timestamp"]
    per_contact = Counter(booking["contactDetails"]["contactId"] for booking in data.bookings)
    windows = [
        sum(per_contact.get(c["id"], 0) for c in data.contacts[start : start + 25])
        for start in range(0, 300, 25)
    ]
    assert all(30 <= total <= 100 for total in windows)
    assert 0.75 <= len(data.subscriptions) / len(data.contacts) <= 0.95
    statuses = {booking["status"] for booking in data.bookings}
    assert {"CONFIRMED", "PENDING", "CANCELED"} <= statuses
    assert all(created.endswith("Z") and len(created) == 24 for created in created)
    assert find_defaults(data.__dict__) == []
