"""The Wix adapter against the emulator over HTTP: paging, batching, mapping, failures."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from schema.records import ParticipantKey, ParticipantRecord
from server.providers.errors import ProviderError
from server.providers.wix import mapping
from server.providers.wix.client import WixAdapter
from server.providers.wix.emulated.dataset import WixDataset, generate_dataset
from server.providers.wix.emulated.emulator import WixEmulator, create_emulator
from server.providers.wix.spec import SPEC
from tests.server.providers.support import adapter_for, list_all
from tests.upstream import SocketUpstream

CONTACTS = 60


@dataclass
class Wix:
    adapter: WixAdapter
    emulator: WixEmulator
    dataset: WixDataset


@pytest.fixture
async def wix(upstream: SocketUpstream) -> AsyncIterator[Wix]:
    dataset = generate_dataset(seed=3, contacts=CONTACTS)
    emulator = create_emulator(dataset, api_key="key", site_id="site")
    adapter, transport = adapter_for(
        SPEC, upstream, emulator.app, account_id="site", credential="key"
    )
    assert isinstance(adapter, WixAdapter)
    yield Wix(adapter, emulator, dataset)
    await transport.close()


async def first(wix: Wix, limit: int) -> list[ParticipantRecord]:
    listed = await wix.adapter.list_participants(position=None, limit=limit)
    return [record for record, _ in listed.participants]


@pytest.mark.parametrize("limit", [7, 25, 60])
async def test_contacts_list_in_creation_order_following_positions(wix: Wix, limit: int) -> None:
    seen = await list_all(wix.adapter, limit)
    assert [p.key.provider_id for p in seen] == [c["id"] for c in wix.dataset.contacts]
    assert wix.emulator.requests["contacts.query"] == math.ceil(CONTACTS / limit)


async def test_a_participant_maps_exactly_from_its_contact(wix: Wix) -> None:
    contact = wix.dataset.contacts[0]
    [record] = await first(wix, 1)
    name = contact["info"]["name"]
    assert record == ParticipantRecord(
        key=ParticipantKey("conn_test", contact["id"]),
        name=f"{name['first']} {name['last']}",
        email=contact["primaryInfo"]["email"],
        phone=contact["primaryInfo"].get("phone"),
        created_at=contact["createdDate"],
        provider="wix",
    )


async def test_relations_of_a_page_cost_one_call_each_and_align_with_the_participants(
    wix: Wix,
) -> None:
    participants = await first(wix, 50)
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


BOOKING_STATUS = {
    "CONFIRMED": "confirmed",
    "PENDING": "pending",
    "CREATED": "pending",
    "CANCELED": "cancelled",
    "DECLINED": "declined",
    "WAITING_LIST": "waitlisted",
}
PAYMENT_STATUS = {
    "PAID": "paid",
    "NOT_PAID": "pending",
    "PENDING": "pending",
    "PARTIALLY_PAID": "partially_paid",
    "FULLY_REFUNDED": "refunded",
    "PARTIALLY_REFUNDED": "partially_refunded",
}
SUBSCRIPTION_STATUS = {"SUBSCRIBED": "granted", "UNSUBSCRIBED": "denied", "PENDING": "pending"}


async def test_every_booking_maps_to_its_registration_value_by_value(wix: Wix) -> None:
    participants = await first(wix, 60)
    by_contact = await wix.adapter.registrations(participants)
    bookings = {b["id"]: b for b in wix.dataset.bookings}
    seen_statuses = set()
    for participant, registrations in zip(participants, by_contact, strict=True):
        mine = [
            b
            for b in wix.dataset.bookings
            if b["contactDetails"]["contactId"] == participant.key.provider_id
        ]
        assert sorted(r.provider_id for r in registrations) == sorted(b["id"] for b in mine)
        for registration in registrations:
            booking = bookings[registration.provider_id]
            seen_statuses.add(booking["status"])
            assert registration.status == BOOKING_STATUS[booking["status"]]
            assert registration.session_id == booking["bookedEntity"]["slot"]["sessionId"]
            assert registration.created_at == booking["createdDate"]
            expected_confirmed = (
                booking["updatedDate"] if booking["status"] == "CONFIRMED" else None
            )
            assert registration.confirmed_at == expected_confirmed
    assert seen_statuses == set(BOOKING_STATUS)  # every mapping was exercised


async def test_every_order_line_maps_to_a_purchase_value_by_value(wix: Wix) -> None:
    participants = await first(wix, 60)
    purchases = [p for ps in await wix.adapter.purchases(participants) for p in ps]
    lines = {
        f"{order['id']}/{line['id']}": (order, line)
        for order in wix.dataset.orders
        for line in order["lineItems"]
    }
    assert {p.provider_id for p in purchases} == set(lines)
    seen = set()
    for purchase in purchases:
        order, line = lines[purchase.provider_id]
        expected = (
            "cancelled" if order["status"] == "CANCELED" else PAYMENT_STATUS[order["paymentStatus"]]
        )
        seen.add("CANCELED" if order["status"] == "CANCELED" else order["paymentStatus"])
        assert purchase.status == expected
        assert str(purchase.price_paid) == line["totalPriceAfterTax"]["amount"]
        assert purchase.currency_code == "USD"
        assert purchase.purchased_at == order["purchasedDate"]
        assert purchase.product.provider_id == line["catalogReference"]["catalogItemId"]
        assert purchase.product.name == line["productName"]["original"]
    assert seen == set(PAYMENT_STATUS) | {"CANCELED"}


async def test_consent_joins_subscriptions_by_email(wix: Wix) -> None:
    participants = await first(wix, 60)
    by_email = {s["email"].lower(): s for s in wix.dataset.subscriptions}
    shouting = ParticipantRecord(
        ParticipantKey("conn_test", "x"), "Shout", participants[0].email.upper(), provider="wix"
    )
    no_email = ParticipantRecord(ParticipantKey("conn_test", "y"), "Quiet", None, provider="wix")
    consents = await wix.adapter.consents([*participants, shouting, no_email])
    statuses = set()
    for participant, consent in zip(participants, consents, strict=False):
        subscription = by_email.get(participant.email.lower())
        assert consent is not None
        if subscription is None:
            assert (consent.status, consent.at) == ("unknown", None)
            statuses.add("none")
        else:
            statuses.add(subscription["subscriptionStatus"])
            assert consent.status == SUBSCRIPTION_STATUS.get(
                subscription["subscriptionStatus"], "unknown"
            )
            assert consent.at == subscription["updatedDate"]
    assert statuses == {"SUBSCRIBED", "UNSUBSCRIBED", "PENDING", "NOT_SET", "none"}
    assert consents[-2] == consents[0]  # the email matched whatever its case
    assert consents[-1] is None  # no email, no consent to speak of


async def test_a_session_is_fetched_by_id_and_an_unknown_one_is_none(wix: Wix) -> None:
    session = wix.dataset.sessions[0]
    found = await wix.adapter.activity_sessions([session["id"], "missing-session"])
    assert set(found) == {session["id"]}
    assert found[session["id"]].title == session["title"]


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "retry_after": 0},  # retried without waiting, then given up
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
        await wix.adapter.list_participants(position=None, limit=5)
    assert raised.value.provider == "wix"


async def test_wrong_credentials_are_a_provider_error(wix: Wix, upstream: SocketUpstream) -> None:
    adapter, transport = adapter_for(
        SPEC, upstream, wix.emulator.app, account_id="site", credential="no"
    )
    with pytest.raises(ProviderError) as raised:
        await adapter.list_participants(position=None, limit=5)
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
    listed = await wix.adapter.list_participants(position=None, limit=5)
    assert len(listed.participants) == 5
    assert wix.emulator.requests["contacts.query"] == calls


async def test_a_retry_waits_as_long_as_retry_after_asks(wix: Wix) -> None:
    wix.emulator.faults.status = 429
    wix.emulator.faults.retry_after = 1
    wix.emulator.faults.fail_next = 1
    began = time.monotonic()
    await wix.adapter.list_participants(position=None, limit=5)
    assert time.monotonic() - began >= 1.0
    assert wix.emulator.requests["contacts.query"] == 2


async def test_retries_stop_after_three_attempts(wix: Wix) -> None:
    wix.emulator.faults.status = 500
    with pytest.raises(ProviderError):
        await wix.adapter.list_participants(position=None, limit=5)
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
    with pytest.raises(ProviderError):
        await wix.adapter.list_participants(position=None, limit=5)
    assert wix.emulator.requests["contacts.query"] == 1  # asked once, never again


def _bookings_of(dataset: WixDataset, participants: list[ParticipantRecord]) -> set[str]:
    ids = {p.key.provider_id for p in participants}
    return {b["id"] for b in dataset.bookings if b["contactDetails"]["contactId"] in ids}


def _registered(registrations: list) -> set[str]:
    return {r.provider_id for mine in registrations for r in mine}


async def test_later_batches_go_in_chunks_that_fit_a_page_all_at_once(
    upstream: SocketUpstream,
) -> None:
    dataset = generate_dataset(seed=3, contacts=50, per_contact=10)
    emulator = create_emulator(dataset, api_key="key", site_id="site")
    emulator.faults.latency_seconds = 0.02  # so that calls made together overlap
    adapter, transport = adapter_for(
        SPEC, upstream, emulator.app, account_id="site", credential="key"
    )
    assert isinstance(adapter, WixAdapter)
    try:
        listed = await adapter.list_participants(position=None, limit=50)
        people = [record for record, _ in listed.participants]
        emulator.reset_counts()
        # Nothing seen yet: one filter for the batch, its pages followed in turn.
        await adapter.registrations(people[:25])
        assert emulator.requests["bookings.query"] == 3
        assert emulator.round_trips == 3
        emulator.reset_counts()
        # Ten bookings per contact seen: chunks of ten contacts, each one page, together.
        registrations = await adapter.registrations(people[25:])
        assert emulator.requests["bookings.query"] == 3
        assert emulator.round_trips == 1
        assert _registered(registrations) == _bookings_of(dataset, people[25:])
        assert all(len(mine) == 10 for mine in registrations)
    finally:
        await transport.close()


async def test_a_chunk_that_overflows_its_page_follows_the_cursor(wix: Wix) -> None:
    people = await first(wix, CONTACTS)
    counts = {c["id"]: 0 for c in wix.dataset.contacts}
    for booking in wix.dataset.bookings:
        counts[booking["contactDetails"]["contactId"]] += 1
    light = [p for p in people if counts[p.key.provider_id] == 1]
    await wix.adapter.registrations(light)  # one booking per contact: chunks of 100
    assert sum(counts.values()) > 100  # so all sixty contacts in one chunk overflow a page
    wix.emulator.reset_counts()
    registrations = await wix.adapter.registrations(people)
    assert wix.emulator.requests["bookings.query"] == math.ceil(sum(counts.values()) / 100)
    assert _registered(registrations) == _bookings_of(wix.dataset, people)


def test_an_amount_keeps_the_scale_wix_wrote_it_in_whatever_came_before() -> None:
    written = [mapping.Money(amount=amount) for amount in ("25.00", 25.0, "25", 25)]
    prices = [mapping._amount(money.amount) for money in written for _ in range(2)]
    assert [str(price) for price in prices] == ["25.00"] * 2 + ["25.0"] * 2 + ["25"] * 4
