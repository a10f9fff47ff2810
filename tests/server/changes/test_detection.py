"""Change detection against each provider's emulator over HTTP, on the sync worker's own
passes: every change the emulator makes shows in the log exactly as it shows in the API
(one event per record created, updated or deleted, with the API's GIDs and the fields
that changed), a connection's first pass and an unchanged pass say nothing, and a
provider failing halfway through a full pass removes nothing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from server.providers.emulated.mutations import Intent
from server.providers.registry import PROVIDERS
from server.providers.sessionboard.emulated.emulator import (
    create_emulator as create_sessionboard_emulator,
)
from server.providers.sessionboard.spec import category as sessionboard_category
from server.providers.sessions.emulated.emulator import create_emulator as create_sessions_emulator
from server.providers.spec import OutboundLimit, ProviderSpec
from server.store.models import RecordFingerprint, SyncState
from server.sync import Outcome
from tests.server.changes.detection import (
    Expected,
    changes_of,
    difference,
    listed,
    logged_since,
)
from tests.server.conftest import World

HANDLE = "tremble"
# The quick run checks one indexed and one live provider; the full run all four (Sessions'
# and Sessionboard's crawls, whole after each change, take the longest).
TRACKED = [
    "boxpressd",
    "wix",
    pytest.param("sessions", marks=pytest.mark.slow),
    pytest.param("sessionboard", marks=pytest.mark.slow),
]
LIVE = {"wix"}
# One of each kind of thing that happens at a business, in an order that leaves
# something to change and remove.
SCRIPT = (
    Intent.JOIN,
    Intent.REGISTER,
    Intent.CONFIRM,
    Intent.CANCEL,
    Intent.CONSENT,
    Intent.PURCHASE,
    Intent.PAYMENT,
    Intent.RENAME,
    Intent.REEMAIL,
    Intent.UNREGISTER,
    Intent.LEAVE,
)


# What fails in a pass: for Sessions its bookings, read after every session and its
# participants (a pass failing halfway); Boxpressd's one list, wherever.
FAILING_LATE = {"sessions": frozenset({"bookings.list"})}


@pytest.fixture(params=TRACKED)
def connected(request: pytest.FixtureRequest) -> dict[str, tuple[str, ...]]:
    return {HANDLE: (request.param,)}


def _sessions_emulator(dataset: Any, account_id: str, key: str) -> Any:
    return create_sessions_emulator(dataset, api_key=key, rate_limit=(1000, 1))


def _sessionboard_emulator(dataset: Any, organization: str, token: str) -> Any:
    return create_sessionboard_emulator(
        dataset, token=token, organization_id=organization, rate_limit=(1000, 1)
    )


# The rate-limited providers allow 1000 requests a second here, not a minute or a quarter
# hour, and say so in their headers: each step's passes take a fraction of a second,
# paced by the same rules.
FASTER = {
    "sessions": (_sessions_emulator, None),
    "sessionboard": (
        _sessionboard_emulator,
        OutboundLimit(1000, 1, category=sessionboard_category),
    ),
}


@pytest.fixture
def providers() -> tuple[ProviderSpec, ...]:
    specs = []
    for spec in PROVIDERS:
        if spec.name in FASTER:
            emulator, outbound = FASTER[spec.name]
            spec = dataclasses.replace(
                spec,
                emulated=dataclasses.replace(spec.emulated, emulator=emulator),
                outbound=outbound or spec.outbound,
            )
        specs.append(spec)
    return tuple(specs)


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"key_rate_limit": 100_000, "business_rate_limit": 100_000}


async def one_pass(world: World) -> list[Outcome]:
    outcomes = await world.services.sync.sync_all(business_id=world.business_ids[HANDLE])
    assert outcomes and all(o.synced for o in outcomes), outcomes
    return outcomes


def provider_of(world: World) -> str:
    [(_, provider)] = world.emulators
    return provider


async def full_pass_due(world: World) -> None:
    """Make the next pass a full one, as if the last had ended two days ago."""
    async with world.services.engine.begin() as connection:
        await connection.execute(
            update(SyncState).values(last_full_at=datetime.now(UTC) - timedelta(days=2))
        )


async def test_each_change_is_one_event_with_the_gids_the_api_returns(world: World) -> None:
    """After each change: a pass as the schedule runs it (a watch, an incremental
    crawl), then a full one; together they say exactly what the API shows changed. A
    live connection's watch alone finds what was created or updated."""
    provider = provider_of(world)
    emulator = world.emulator(provider, HANDLE)
    await one_pass(world)  # the first: records, says nothing
    assert await logged_since(world, HANDLE, 0) == []
    emulator.reset_counts()
    await one_pass(world)  # nothing changed: nothing to say
    assert await logged_since(world, HANDLE, 0) == []
    if provider in LIVE:
        assert emulator.total_requests == 4  # one page of each changed-since query
    seen = 0
    topics: set[str] = set()
    for step, intent in enumerate(SCRIPT):
        before = await listed(world, HANDLE)
        if not changes_of(emulator, [intent], seed=step):
            continue  # the provider has no such thing
        await one_pass(world)
        watched = await logged_since(world, HANDLE, seen)
        await full_pass_due(world)
        await one_pass(world)
        events = await logged_since(world, HANDLE, seen)
        expected = difference(before, await listed(world, HANDLE))
        assert sorted(Expected.of(e) for e in events) == expected, intent
        assert [e.seq for e in events] == list(range(seen + 1, seen + len(events) + 1))
        if provider in LIVE:
            assert sorted(Expected.of(e) for e in watched) == [
                e for e in expected if not e.topic.endswith(".deleted")
            ], intent
        seen += len(events)
        topics |= {e.topic for e in events}
    assert {"participant.created", "participant.updated", "participant.deleted"} <= topics
    assert {"registration.created", "registration.deleted"} <= topics
    await one_pass(world)
    assert await logged_since(world, HANDLE, seen) == []
    # Paced by the provider's own headers: never a request into a full window.
    assert getattr(emulator, "into_full_window", 0) == 0
    if provider in LIVE:
        await no_copy_of_the_provider_s_people(world, emulator)


async def no_copy_of_the_provider_s_people(world: World, emulator: Any) -> None:
    """A live connection's records are not kept: no name or email the provider holds is
    anywhere in the store, fingerprints included."""
    async with world.services.engine.connect() as connection:
        prints = (await connection.execute(select(RecordFingerprint))).all()
        assert prints
        stored = []
        for table in RecordFingerprint.metadata.sorted_tables:
            stored += [repr(tuple(row)) for row in await connection.execute(select(table))]
    everything = "\n".join(stored).lower()
    people = [p for contact in emulator.dataset.contacts for p in _name_and_email(contact)]
    assert people
    assert not [p for p in people if p.lower() in everything]


def _name_and_email(contact: dict[str, Any]) -> list[str]:
    name = contact.get("info", {}).get("name", {})
    full = " ".join(filter(None, (name.get("first"), name.get("last"))))
    email = contact.get("primaryInfo", {}).get("email")
    return [text for text in (full, email) if text and len(text) > 4]


async def test_a_provider_failing_halfway_removes_nothing_and_the_next_pass_catches_up(
    world: World,
) -> None:
    emulator = world.emulator(provider_of(world), HANDLE)
    await one_pass(world)
    before = await listed(world, HANDLE)
    assert changes_of(emulator, [Intent.LEAVE], seed=1)
    await full_pass_due(world)
    emulator.faults.endpoints = FAILING_LATE.get(provider_of(world), frozenset())
    emulator.faults.status = 500
    emulator.reset_counts()
    [failed] = await world.services.sync.sync_all(business_id=world.business_ids[HANDLE])
    assert failed.error and not failed.synced
    assert emulator.total_requests > 0
    assert await logged_since(world, HANDLE, 0) == []  # nothing removed by a failed pass
    emulator.faults.status = None
    await full_pass_due(world)
    await one_pass(world)
    events = await logged_since(world, HANDLE, 0)
    expected = difference(before, await listed(world, HANDLE))
    assert sorted(Expected.of(e) for e in events) == expected
    assert any(e.topic == "participant.deleted" for e in events)
