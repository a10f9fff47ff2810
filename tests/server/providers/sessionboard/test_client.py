"""The Sessionboard adapter against its emulator over HTTP: paging with both envelopes,
names, registrations and their statuses, call counts and the sessions cache."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from schema.records import ParticipantKey, ParticipantRecord
from server.providers.http import UpstreamLimits
from server.providers.sessionboard.client import SessionboardAdapter
from server.providers.sessionboard.emulated.dataset import SessionboardDataset, generate_dataset
from server.providers.sessionboard.emulated.emulator import SessionboardEmulator, create_emulator
from server.providers.sessionboard.spec import SPEC
from tests.server.providers.support import adapter_for, list_all
from tests.upstream import SocketUpstream

CONTACTS = 120
ORG = "org-1"
TOKEN = "sb-token"
STATUS = {
    "accepted": "confirmed",
    "pending": "pending",
    "accept_queue": "pending",
    "declined": "declined",
    "decline_queue": "declined",
}


@dataclass
class Sessionboard:
    adapter: SessionboardAdapter
    emulator: SessionboardEmulator
    dataset: SessionboardDataset


async def _sessionboard(
    upstream: SocketUpstream, envelope: str | None = None, cache: float = 60
) -> Any:
    dataset = generate_dataset(seed=4, contacts=CONTACTS)
    emulator = create_emulator(
        dataset, token=TOKEN, organization_id=ORG, envelope=envelope, rate_limit=None
    )
    adapter, transport = adapter_for(
        SPEC,
        upstream,
        emulator.app,
        account_id=ORG,
        credential=TOKEN,
        limits=UpstreamLimits(cache_seconds=cache),
    )
    assert isinstance(adapter, SessionboardAdapter)
    return Sessionboard(adapter, emulator, dataset), transport


@pytest.fixture(params=["data", "results"])
async def sessionboard(
    request: pytest.FixtureRequest, upstream: SocketUpstream
) -> AsyncIterator[Sessionboard]:
    built, transport = await _sessionboard(upstream, request.param)
    yield built
    await transport.close()


def name_of(contact: dict[str, Any]) -> str | None:
    parts = [contact.get("first_name"), contact.get("last_name")]
    return " ".join(p for p in parts if p) or None


def as_output(timestamp: str) -> str:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.mark.parametrize("limit", [7, 25, 100])
async def test_contacts_page_to_the_end_in_creation_order(
    sessionboard: Sessionboard, limit: int
) -> None:
    seen = await list_all(sessionboard.adapter, limit)
    contacts = sorted(sessionboard.dataset.contacts, key=lambda c: (c["created_at"], c["id"]))
    assert [p.key.provider_id for p in seen] == [str(c["id"]) for c in contacts]
    # One contacts call per stretch: a stretch ends at `limit` or at the end of one of
    # Sessionboard's pages of 100.
    calls, offset = 0, 0
    while offset < CONTACTS:
        offset += min(limit, (offset // 100 + 1) * 100 - offset, CONTACTS - offset)
        calls += 1
    assert sessionboard.emulator.requests["contacts.search"] == calls


async def test_every_participant_maps_exactly_from_its_contact(sessionboard: Sessionboard) -> None:
    seen = {p.key.provider_id: p for p in await list_all(sessionboard.adapter, 100)}
    missing_parts = non_ascii = 0
    for contact in sessionboard.dataset.contacts:
        assert seen[str(contact["id"])] == ParticipantRecord(
            key=ParticipantKey("conn_test", str(contact["id"])),
            name=name_of(contact),
            email=contact["email"],
            created_at=as_output(contact["created_at"]),
            provider="sessionboard",
        )
        missing_parts += not (contact.get("first_name") and contact.get("last_name"))
        non_ascii += not (name_of(contact) or "").isascii()
    assert missing_parts > 0 and non_ascii > 0  # both cases were exercised
    without_ms = [c for c in sessionboard.dataset.contacts if "." not in c["created_at"]]
    assert without_ms and all(seen[str(c["id"])].created_at.endswith(".000Z") for c in without_ms)


async def test_registrations_are_the_sessions_a_contact_speaks_at_or_attends(
    sessionboard: Sessionboard,
) -> None:
    participants = await list_all(sessionboard.adapter, 100)
    registrations = await sessionboard.adapter.registrations(participants)
    statuses, nobody, both = set(), 0, 0
    for participant, mine in zip(participants, registrations, strict=True):
        expected = sessionboard.dataset.sessions_of(int(participant.key.provider_id))
        assert sorted(r.session_id for r in mine) == sorted(
            f"{event}/{session['id']}" for event, session in expected
        )
        nobody += not expected
        for event, session in expected:
            [registration] = [r for r in mine if r.session_id == f"{event}/{session['id']}"]
            statuses.add(session["status"])
            assert registration.status == STATUS[session["status"]]
            assert (
                registration.provider_id == f"{event}/{session['id']}/{participant.key.provider_id}"
            )
            confirmed = (
                as_output(session["updated_at"]) if session["status"] == "accepted" else None
            )
            assert registration.confirmed_at == confirmed
            people = [p["id"] for p in session["participants"] + session["speakers"]]
            both += people.count(int(participant.key.provider_id)) > 1
    assert statuses == set(STATUS)  # every status mapping was exercised
    assert nobody > 0  # contacts in no session have none
    assert both > 0  # a speaker who also takes part is registered once


async def test_consent_and_purchases_answer_empty_without_a_call(
    sessionboard: Sessionboard,
) -> None:
    participants = await sessionboard.adapter.list_participants(position=None, limit=5)
    records = [record for record, _ in participants.participants]
    sessionboard.emulator.reset_counts()
    assert await sessionboard.adapter.consents(records) == [None] * 5
    assert await sessionboard.adapter.purchases(records) == [[]] * 5
    assert sessionboard.emulator.total_requests == 0


def _session_pages(dataset: SessionboardDataset) -> int:
    return sum(math.ceil(len(s) / 100) for s in dataset.sessions_by_event.values())


@pytest.mark.parametrize("first", [25, 5])
async def test_registrations_cost_the_events_and_their_session_pages_whatever_the_page_size(
    first: int, upstream: SocketUpstream
) -> None:
    built, transport = await _sessionboard(upstream)
    listed = await built.adapter.list_participants(position=None, limit=first)
    records = [record for record, _ in listed.participants]
    await built.adapter.registrations(records)
    assert dict(built.emulator.requests) == {
        "contacts.search": 1,
        "events.list": 1,
        "sessions.search": _session_pages(built.dataset),
    }
    # Within the cache time, the next page costs only its contacts call.
    built.emulator.reset_counts()
    listed = await built.adapter.list_participants(position=listed.end, limit=first)
    await built.adapter.registrations([record for record, _ in listed.participants])
    assert dict(built.emulator.requests) == {"contacts.search": 1}
    await transport.close()


async def test_the_sessions_are_read_again_once_the_cache_time_is_over(
    upstream: SocketUpstream,
) -> None:
    built, transport = await _sessionboard(upstream, cache=0.001)
    listed = await built.adapter.list_participants(position=None, limit=5)
    records = [record for record, _ in listed.participants]
    await built.adapter.registrations(records)
    built.emulator.reset_counts()
    await asyncio.sleep(0.01)
    await built.adapter.registrations(records)
    assert built.emulator.requests["events.list"] == 1
    await transport.close()


async def test_an_activity_session_is_fetched_by_its_event_and_id(
    sessionboard: Sessionboard,
) -> None:
    event, sessions = next(iter(sessionboard.dataset.sessions_by_event.items()))
    session = sessions[0]
    key = f"{event}/{session['id']}"
    found = await sessionboard.adapter.activity_sessions([key, f"{event}/999999999", "nonsense"])
    assert set(found) == {key}
    assert found[key].title == session["title"]
    assert found[key].starts_at == as_output(session["starts_at"])
