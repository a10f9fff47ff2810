"""The Wix watcher against the emulator over HTTP: what an unchanged site costs, what each
kind of change yields, and that a full pass is what the adapter lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schema.gids import encode_gid
from server.changes.events import Kind, gid
from server.changes.fields import participant_fields, purchase_fields, registration_fields
from server.providers.errors import InvalidResponse
from server.providers.http import ProviderHttp, UpstreamLimits
from server.providers.http1 import Http1Transport
from server.providers.watched import Seen, Watched, Watcher
from server.providers.wix.client import WixAdapter
from server.providers.wix.emulated.dataset import WixDataset, generate_dataset, iso
from server.providers.wix.emulated.emulator import WixEmulator, create_emulator
from server.providers.wix.spec import SPEC
from server.providers.wix.watcher import CONTACTS_PAGE, OVERLAP, WixWatcher
from tests.server.providers.support import CONNECTION, connection_record
from tests.upstream import SocketUpstream

CONTACTS = 300
SITE, KEY = "site-watched", "key"
SOURCES = {"contacts.query", "subscriptions.query", "bookings.query", "orders.search"}
FIELDS = {
    Kind.PARTICIPANT: {"name", "email", "emailMarketingConsent"},
    Kind.REGISTRATION: {"status", "confirmedAt", "activitySession"},
    Kind.PURCHASE: {"status", "pricePaid", "purchasedAt", "product"},
}


class Clock:
    """A wall clock for the emulator's changes, moved only by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    watcher: Watcher
    adapter: WixAdapter
    emulator: WixEmulator
    clock: Clock

    def mutate(self, kind: str, op: str, fields: dict[str, Any], **id_: Any) -> dict[str, Any]:
        self.clock.now += timedelta(minutes=10)  # each change well past the last one's overlap
        return self.emulator.mutate({"kind": kind, "op": op, **id_, **fields})


@pytest.fixture(scope="module")
def dataset() -> WixDataset:
    return generate_dataset(seed=5, contacts=CONTACTS)


@pytest.fixture
async def site(upstream: SocketUpstream, dataset: WixDataset) -> AsyncIterator[Site]:
    """A fresh emulator of its own (the test may change its data), reached through the
    production transport on the session's socket."""
    clock = Clock(datetime(2030, 1, 1, tzinfo=UTC))  # after every seeded timestamp
    emulator = create_emulator(dataset, api_key=KEY, site_id=SITE, now=clock)
    base_url = upstream.mount(emulator.app, "wix")
    transport = Http1Transport()
    http = ProviderHttp(
        transport,
        provider=SPEC.name,
        base_url=base_url,
        headers=SPEC.headers(SITE, KEY),
        limits=UpstreamLimits(),
    )
    connection = connection_record(SPEC, SITE, base_url)
    assert SPEC.watcher is not None
    watcher = SPEC.watcher(http, connection)
    assert isinstance(watcher, WixWatcher)
    yield Site(watcher, WixAdapter(http, connection=CONNECTION), emulator, clock)
    await transport.close()
    upstream.unmount(base_url)


async def batches(batches: AsyncIterator[Watched]) -> list[Watched]:
    return [batch async for batch in batches]


def last_stamp(site: Site) -> str:
    assert site.emulator.stamps.last is not None
    return iso(site.emulator.stamps.last)


def seen_of(watched: list[Watched]) -> list[Seen]:
    return [seen for batch in watched for seen in batch.seen]


def keyed(seen: list[Seen]) -> dict[tuple[Kind, str], Seen]:
    return {(s.kind, s.provider_id): s for s in seen}


async def full_pass(site: Site) -> Any:
    watched = await batches(site.watcher.everything())
    return watched[-1].watermark


async def listed(site: Site) -> dict[tuple[Kind, str], tuple[str, Any]]:
    """Every record the adapter lists, as (participant id, fields)."""
    participants, position = [], None
    while True:
        page = await site.adapter.list_participants(position=position, limit=100)
        participants += [record for record, _ in page.participants]
        if page.end is None:
            break
        position = page.end
    consents = await site.adapter.consents(participants)
    registrations = await site.adapter.registrations(participants)
    purchases = await site.adapter.purchases(participants)
    expected: dict[tuple[Kind, str], tuple[str, Any]] = {}
    for participant, consent, theirs, bought in zip(
        participants, consents, registrations, purchases, strict=True
    ):
        contact = participant.key.provider_id
        expected[(Kind.PARTICIPANT, contact)] = (contact, participant_fields(participant, consent))
        for registration in theirs:
            fields = registration_fields(registration, CONNECTION)
            expected[(Kind.REGISTRATION, registration.provider_id)] = (contact, fields)
        for purchase in bought:
            fields = purchase_fields(purchase, CONNECTION)
            expected[(Kind.PURCHASE, purchase.provider_id)] = (contact, fields)
    return expected


async def test_a_full_pass_yields_every_record_the_adapter_lists_with_the_same_fields(
    site: Site,
) -> None:
    watched = await batches(site.watcher.everything())
    seen = seen_of(watched)
    assert len(keyed(seen)) == len(seen)  # nothing twice on a site that did not change
    expected = await listed(site)
    assert {key: (s.participant_id, dict(s.fields)) for key, s in keyed(seen).items()} == {
        key: (contact, dict(fields)) for key, (contact, fields) in expected.items()
    }
    assert {kind for kind, _ in expected} == set(Kind)
    for s in seen:
        assert set(s.fields) == FIELDS[s.kind]  # the graph's names, nothing of Wix's
        assert s.changed_at is not None


async def test_a_full_pass_ends_at_the_newest_update_of_each_source(
    site: Site, dataset: WixDataset
) -> None:
    watermark = await full_pass(site)
    for source, rows in (
        ("contacts", dataset.contacts),
        ("subscriptions", dataset.subscriptions),
        ("bookings", dataset.bookings),
        ("orders", dataset.orders),
    ):
        assert watermark[source]["at"] == max(row["updatedDate"] for row in rows), source


async def test_an_unchanged_site_costs_one_request_a_source_and_yields_nothing(
    site: Site,
) -> None:
    watermark = await full_pass(site)
    site.emulator.reset_counts()
    watched = await batches(site.watcher.changed_since(watermark))
    assert dict(site.emulator.requests) == dict.fromkeys(SOURCES, 1)
    # The overlap re-reads the newest records of each source; the watermark remembers
    # them, so they are neither looked up nor yielded (yielded, they would match their
    # fingerprints and make no event).
    assert seen_of(watched) == []


async def test_a_renamed_contact_is_yielded_with_its_new_name_and_the_apis_gid(
    site: Site, dataset: WixDataset
) -> None:
    watermark = await full_pass(site)
    contact = dataset.contacts[17]["id"]
    site.mutate(kind="participant", op="change", id=contact, fields={"name": "Ada Lovelace"})
    site.emulator.reset_counts()
    seen = keyed(seen_of(await batches(site.watcher.changed_since(watermark))))
    assert list(seen) == [(Kind.PARTICIPANT, contact)]
    # a source each, and the changed contact's consent
    assert dict(site.emulator.requests) == {**dict.fromkeys(SOURCES, 1), "subscriptions.query": 2}
    changed = seen[(Kind.PARTICIPANT, contact)]
    assert changed.fields["name"] == "Ada Lovelace"
    assert changed.participant_id == contact
    expected = (await listed(site))[(Kind.PARTICIPANT, contact)]
    assert dict(changed.fields) == dict(expected[1])
    [record] = (await site.adapter.participants_by_id([contact])).values()
    api_gid = str(encode_gid("BusinessParticipant", CONNECTION, record.key.provider_id))
    assert gid(Kind.PARTICIPANT, CONNECTION, changed.provider_id) == api_gid


async def test_a_changed_consent_is_the_participant_of_its_address(
    site: Site, dataset: WixDataset
) -> None:
    watermark = await full_pass(site)
    subscribed = {s["email"]: s["subscriptionStatus"] for s in dataset.subscriptions}
    contact = next(
        c
        for c in dataset.contacts
        if subscribed.get(c["primaryInfo"]["email"]) not in (None, "UNSUBSCRIBED")
    )
    change = {"subscriptionStatus": "UNSUBSCRIBED"}
    site.mutate(kind="participant", op="change", id=contact["id"], fields=change)
    site.emulator.reset_counts()
    seen = keyed(seen_of(await batches(site.watcher.changed_since(watermark))))
    assert list(seen) == [(Kind.PARTICIPANT, contact["id"])]
    # a source each, and the contact of the changed subscription's address
    assert dict(site.emulator.requests) == {**dict.fromkeys(SOURCES, 1), "contacts.query": 2}
    consent = seen[(Kind.PARTICIPANT, contact["id"])].fields["emailMarketingConsent"]
    assert consent == {"status": "denied", "at": last_stamp(site)}
    expected = (await listed(site))[(Kind.PARTICIPANT, contact["id"])]
    assert dict(seen[(Kind.PARTICIPANT, contact["id"])].fields) == dict(expected[1])


async def test_a_booking_added_then_cancelled_is_yielded_each_time_with_its_status(
    site: Site, dataset: WixDataset
) -> None:
    watermark = await full_pass(site)
    contact = dataset.contacts[3]["id"]
    booked = {
        b["bookedEntity"]["slot"]["sessionId"]
        for b in dataset.bookings
        if b["contactDetails"]["contactId"] == contact
    }
    session = next(
        s
        for s in dataset.sessions
        if s["status"] == "CONFIRMED" and s.get("remainingCapacity") and s["id"] not in booked
    )
    added = site.mutate(
        kind="registration", op="add", fields={"participant": contact, "session": session["id"]}
    )
    booking = added["id"]
    watched = await batches(site.watcher.changed_since(watermark))
    seen = keyed(seen_of(watched))
    assert list(seen) == [(Kind.REGISTRATION, booking)]
    first = seen[(Kind.REGISTRATION, booking)]
    assert first.participant_id == contact
    assert first.fields["status"] == "confirmed"
    assert first.fields["activitySession"] == {
        "id": str(encode_gid("ActivitySession", CONNECTION, session["id"]))
    }
    assert dict(first.fields) == dict((await listed(site))[(Kind.REGISTRATION, booking)][1])
    assert gid(Kind.REGISTRATION, CONNECTION, booking) == str(
        encode_gid("ActivityRegistration", CONNECTION, booking)
    )

    watermark = watched[-1].watermark
    site.mutate(kind="registration", op="change", id=booking, fields={"status": "CANCELED"})
    seen = keyed(seen_of(await batches(site.watcher.changed_since(watermark))))
    assert list(seen) == [(Kind.REGISTRATION, booking)]
    assert seen[(Kind.REGISTRATION, booking)].fields["status"] == "cancelled"
    assert seen[(Kind.REGISTRATION, booking)].fields["confirmedAt"] is None
    assert dict(seen[(Kind.REGISTRATION, booking)].fields) == dict(
        (await listed(site))[(Kind.REGISTRATION, booking)][1]
    )


async def test_an_order_added_is_one_purchase_per_line_item_as_the_adapter_lists_them(
    site: Site, dataset: WixDataset
) -> None:
    watermark = await full_pass(site)
    contact = dataset.contacts[40]["id"]
    added = site.mutate(kind="purchase", op="add", fields={"participant": contact, "quantity": 2})
    site.emulator.reset_counts()
    seen = keyed(seen_of(await batches(site.watcher.changed_since(watermark))))
    # a source each, and whether the buyer is a contact (the adapter lists no orphan)
    assert dict(site.emulator.requests) == {**dict.fromkeys(SOURCES, 1), "contacts.query": 2}
    expected = {
        key: value
        for key, value in (await listed(site)).items()
        if key[0] is Kind.PURCHASE and key[1].startswith(f"{added['id']}/")
    }
    assert len(expected) == 1
    assert {key: (s.participant_id, dict(s.fields)) for key, s in seen.items()} == {
        key: (who, dict(fields)) for key, (who, fields) in expected.items()
    }
    for key in seen:
        assert gid(Kind.PURCHASE, CONNECTION, key[1]) == str(
            encode_gid("ProductPurchase", CONNECTION, key[1])
        )


async def test_a_new_contact_and_its_booking_are_both_yielded(
    site: Site, dataset: WixDataset
) -> None:
    watermark = await full_pass(site)
    session = next(
        s for s in dataset.sessions if s["status"] == "CONFIRMED" and s.get("remainingCapacity")
    )
    fields = {"name": "New Person", "email": "new.person@example.com", "session": session["id"]}
    fields["subscriptionStatus"] = "SUBSCRIBED"
    added = site.mutate(kind="participant", op="add", fields=fields)
    seen = seen_of(await batches(site.watcher.changed_since(watermark)))
    kinds = {(s.kind, s.participant_id) for s in seen}
    assert kinds == {(Kind.PARTICIPANT, added["id"]), (Kind.REGISTRATION, added["id"])}
    expected = await listed(site)
    for s in seen:
        assert dict(s.fields) == dict(expected[(s.kind, s.provider_id)][1])


async def test_a_watermark_moves_only_past_what_was_read(site: Site, dataset: WixDataset) -> None:
    """Each batch's watermark covers its own page: resuming from any batch reads again
    at most what followed it."""
    watermark = await full_pass(site)
    for index in range(5):
        contact = dataset.contacts[index]["id"]
        site.mutate(kind="participant", op="change", id=contact, fields={"name": f"N {index}"})
    watched = await batches(site.watcher.changed_since(watermark))
    assert all(batch.watermark is not None for batch in watched)
    again = seen_of(await batches(site.watcher.changed_since(watched[-1].watermark)))
    assert again == []
    assert timedelta(minutes=10) > OVERLAP  # the changes are further apart than the overlap


async def test_an_unreadable_watermark_reads_everything_again(site: Site) -> None:
    everything = seen_of(await batches(site.watcher.everything()))
    seen = seen_of(await batches(site.watcher.changed_since({"contacts": "nonsense"})))
    assert keyed(seen) == keyed(everything)


def hostile(contacts: int, cursor: str | None) -> Starlette:
    """A Wix with no subscriptions, bookings or orders, that answers every contacts query
    with `contacts` contacts and, when given, the same next cursor every time."""

    async def query(request: Request) -> JSONResponse:
        rows = [{"id": f"c{i}", "updatedDate": "2026-01-01T00:00:00.000Z"} for i in range(contacts)]
        body: dict[str, Any] = {"contacts": rows}
        if cursor:
            body["pagingMetadata"] = {"hasNext": True, "cursors": {"next": cursor}}
        return JSONResponse(body)

    async def empty(request: Request) -> JSONResponse:
        return JSONResponse({})

    others = [
        "/email-marketing/v1/email-subscriptions/query",
        "/_api/bookings-reader/v2/extended-bookings/query",
        "/ecom/v1/orders/search",
    ]
    routes = [Route(path, empty, methods=["POST"]) for path in others]
    return Starlette(
        routes=[Route("/contacts/v4/contacts/query", query, methods=["POST"]), *routes]
    )


@pytest.mark.parametrize(
    ("contacts", "cursor"), [(CONTACTS_PAGE + 1, None), (2, "same")], ids=["long", "repeating"]
)
async def test_a_page_longer_than_asked_for_or_a_repeated_cursor_is_an_invalid_response(
    upstream: SocketUpstream, contacts: int, cursor: str | None
) -> None:
    base_url = upstream.mount(hostile(contacts, cursor), "wix")
    transport = Http1Transport()
    http = ProviderHttp(
        transport,
        provider=SPEC.name,
        base_url=base_url,
        headers=SPEC.headers(SITE, KEY),
        limits=UpstreamLimits(),
    )
    watcher = WixWatcher(http, CONNECTION)
    try:
        with pytest.raises(InvalidResponse):
            await batches(watcher.everything())
    finally:
        await transport.close()
        upstream.unmount(base_url)


async def test_small_pages_still_read_every_record_once_and_resume_from_each_batch(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of seven: cursors followed on the cursor-paged sources, and the subscriptions'
    offset paging restarted at each page's newest `updatedDate`."""
    from server.providers.wix import watcher

    for name in ("_CONTACTS", "_BOOKINGS", "_ORDERS"):
        monkeypatch.setattr(watcher, name, replace(getattr(watcher, name), limit=7))
    monkeypatch.setattr(watcher, "SUBSCRIPTIONS_PAGE", 7)
    monkeypatch.setattr(watcher, "MAX_PAGES", 1000)
    watched = await batches(site.watcher.everything())
    seen = seen_of(watched)
    assert len(keyed(seen)) == len(seen)
    expected = await listed(site)
    assert {key: dict(s.fields) for key, s in keyed(seen).items()} == {
        key: dict(fields) for key, (_, fields) in expected.items()
    }
    for index in range(0, len(watched), 25):  # a pass stopped after any batch resumes there
        before = keyed(seen_of(watched[: index + 1]))
        after = keyed(seen_of(await batches(site.watcher.changed_since(watched[index].watermark))))
        assert set(before) | set(after) == set(expected)
