"""The Wix adapter against the emulator over HTTP: paging, batching, mapping, failures."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from server.providers.errors import ProviderError
from server.providers.http import HttpxTransport, ProviderHttp, UpstreamLimits
from server.providers.wix.client import WixAdapter, wix_headers
from server.providers.wix.dataset import WixDataset, generate_dataset
from server.providers.wix.emulator import WixEmulator, create_emulator

CONTACTS = 60


@dataclass
class Wix:
    adapter: WixAdapter
    emulator: WixEmulator
    dataset: WixDataset


def adapter_for(transport: HttpxTransport, api_key: str = "key") -> WixAdapter:
    http = ProviderHttp(
        transport,
        provider="wix",
        base_url="http://wix.test",
        headers=wix_headers("site", api_key),
        limits=UpstreamLimits(),
    )
    return WixAdapter(http, connection="conn_test")


@pytest.fixture
async def wix() -> AsyncIterator[Wix]:
    dataset = generate_dataset(seed=3, contacts=CONTACTS)
    emulator = create_emulator(dataset, api_key="key", site_id="site")
    transport = HttpxTransport(httpx.ASGITransport(app=emulator.app))
    yield Wix(adapter_for(transport), emulator, dataset)
    await transport.close()


async def test_contacts_page_with_wix_cursors_in_creation_order(wix: Wix) -> None:
    seen, cursor = [], None
    while True:
        page = await wix.adapter.list_participants(cursor=cursor, limit=25)
        seen += [p.key.provider_id for p in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [c["id"] for c in wix.dataset.contacts]
    assert wix.emulator.requests["contacts.query"] == math.ceil(CONTACTS / 25)


async def test_participants_map_names_emails_and_keys(wix: Wix) -> None:
    page = await wix.adapter.list_participants(cursor=None, limit=5)
    contact = wix.dataset.contacts[0]
    first = page.items[0]
    assert first.key.connection == "conn_test"
    assert first.name == f"{contact['info']['name']['first']} {contact['info']['name']['last']}"
    assert first.email == contact["primaryInfo"]["email"]
    assert first.source == "wix"


async def test_relations_of_a_page_cost_one_call_each_and_align_with_the_participants(
    wix: Wix,
) -> None:
    participants = list((await wix.adapter.list_participants(cursor=None, limit=50)).items)
    wix.emulator.reset_counts()
    registrations = await wix.adapter.registrations(participants)
    purchases = await wix.adapter.purchases(participants)
    consents = await wix.adapter.consents(participants)
    ids = {p.key.provider_id for p in participants}
    bookings = [b for b in wix.dataset.bookings if b["contactDetails"]["contactId"] in ids]
    orders = [o for o in wix.dataset.orders if o["buyerInfo"]["contactId"] in ids]
    assert dict(wix.emulator.requests) == {
        "bookings.query": math.ceil(len(bookings) / 100),
        "orders.search": math.ceil(len(orders) / 100),
        "subscriptions.query": 1,
    }
    assert sum(len(r) for r in registrations) == len(bookings)
    assert sum(len(p) for p in purchases) == sum(len(o["lineItems"]) for o in orders)
    for participant, mine in zip(participants, registrations, strict=True):
        expected = {
            b["id"]
            for b in bookings
            if b["contactDetails"]["contactId"] == participant.key.provider_id
        }
        assert {r.provider_id for r in mine} == expected
    assert len(consents) == len(participants)


async def test_statuses_follow_the_documented_maps(wix: Wix) -> None:
    participants = list((await wix.adapter.list_participants(cursor=None, limit=60)).items)
    registrations = [r for rs in await wix.adapter.registrations(participants) for r in rs]
    booking_status = {b["id"]: b["status"] for b in wix.dataset.bookings}
    expected = {
        "CONFIRMED": "confirmed",
        "PENDING": "pending",
        "CREATED": "pending",
        "CANCELED": "cancelled",
        "DECLINED": "declined",
        "WAITING_LIST": "waitlisted",
    }
    for registration in registrations:
        assert registration.status == expected[booking_status[registration.provider_id]]
        assert (registration.confirmed_at is not None) == (registration.status == "confirmed")
    purchases = [p for ps in await wix.adapter.purchases(participants) for p in ps]
    orders = {o["id"]: o for o in wix.dataset.orders}
    for purchase in purchases:
        order = orders[purchase.provider_id.split("/")[0]]
        if order.get("status") == "CANCELED":
            assert purchase.status == "cancelled"
        else:
            assert purchase.status in {
                "paid",
                "pending",
                "partially_paid",
                "refunded",
                "partially_refunded",
            }


async def test_a_session_is_fetched_by_id_and_an_unknown_one_is_none(wix: Wix) -> None:
    session = wix.dataset.sessions[0]
    found = await wix.adapter.activity_sessions([session["id"], "missing-session"])
    assert set(found) == {session["id"]}
    assert found[session["id"]].title == session["title"]


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429},
        {"status": 500},
        {"malformed_json": True},
    ],
    ids=["throttled", "server error", "malformed json"],
)
async def test_provider_failures_become_provider_errors_without_provider_text(
    wix: Wix, fault: dict[str, object]
) -> None:
    for name, value in fault.items():
        setattr(wix.emulator.faults, name, value)
    with pytest.raises(ProviderError) as raised:
        await wix.adapter.list_participants(cursor=None, limit=5)
    assert raised.value.provider == "wix"


async def test_wrong_credentials_are_a_provider_error(wix: Wix) -> None:
    transport = HttpxTransport(httpx.ASGITransport(app=wix.emulator.app))
    with pytest.raises(ProviderError) as raised:
        await adapter_for(transport, api_key="wrong").list_participants(cursor=None, limit=5)
    await transport.close()
    assert raised.value.status == 401


@pytest.mark.parametrize(
    ("status", "failures", "calls"),
    [(503, 1, 2), (500, 2, 3), (429, 1, 2)],
    ids=["unavailable once", "server error twice", "throttled once"],
)
async def test_transient_failures_are_retried_until_the_call_succeeds(
    wix: Wix, status: int, failures: int, calls: int
) -> None:
    wix.emulator.faults.status = status
    wix.emulator.faults.retry_after = 0
    wix.emulator.faults.fail_next = failures
    page = await wix.adapter.list_participants(cursor=None, limit=5)
    assert len(page.items) == 5
    assert wix.emulator.requests["contacts.query"] == calls


async def test_a_retry_waits_as_long_as_retry_after_asks(wix: Wix) -> None:
    wix.emulator.faults.status = 429
    wix.emulator.faults.retry_after = 1
    wix.emulator.faults.fail_next = 1
    began = time.monotonic()
    await wix.adapter.list_participants(cursor=None, limit=5)
    assert time.monotonic() - began >= 1.0
    assert wix.emulator.requests["contacts.query"] == 2


async def test_retries_stop_after_three_attempts(wix: Wix) -> None:
    wix.emulator.faults.status = 500
    with pytest.raises(ProviderError):
        await wix.adapter.list_participants(cursor=None, limit=5)
    assert wix.emulator.requests["contacts.query"] == 3


@pytest.mark.parametrize(
    "fault",
    [{"status": 429, "retry_after": 30}, {"malformed_json": True}],
    ids=["asks for a long wait", "malformed json"],
)
async def test_a_long_retry_after_or_a_garbled_answer_is_not_retried(
    wix: Wix, fault: dict[str, object]
) -> None:
    for name, value in fault.items():
        setattr(wix.emulator.faults, name, value)
    began = time.monotonic()
    with pytest.raises(ProviderError):
        await wix.adapter.list_participants(cursor=None, limit=5)
    assert time.monotonic() - began < 1
    assert wix.emulator.requests["contacts.query"] == 1
