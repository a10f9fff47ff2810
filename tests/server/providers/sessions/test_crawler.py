"""The Sessions crawler, driven by the sync worker against the emulator over HTTP: what
it indexes, how it paces itself, resumes and stays incremental."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from server.providers.registry import PROVIDERS
from server.providers.sessions.emulated.dataset import generate_dataset
from server.providers.sessions.emulated.emulator import create_emulator
from server.providers.sessions.spec import SPEC
from server.providers.spec import OutboundLimit
from tests.server.providers.indexing import Indexed, Place, indexed

KEY = "sessions-key"


def _emulator(**options: Any) -> Any:
    now = options.pop("now", None)
    dataset = generate_dataset(seed=3, size=options.pop("size", 60), now=now)
    return create_emulator(dataset, api_key=KEY, **options)


# Sessions documents 10 requests a minute; these tests' emulators allow 10 a second, and
# where they do not say so in headers, the crawler is told the same.
SHORT = dataclasses.replace(SPEC, outbound=OutboundLimit(limit=10, window_seconds=1))
PROVIDERS_WITH_SHORT_WINDOW = tuple(SHORT if p.name == "sessions" else p for p in PROVIDERS)
# Where pacing is not what a test is about, the crawler is allowed what it needs at once.
FAST = dataclasses.replace(SPEC, outbound=OutboundLimit(limit=1000, window_seconds=1))
PROVIDERS_UNPACED = tuple(FAST if p.name == "sessions" else p for p in PROVIDERS)


def crawl(place: Place, emulator: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("providers", PROVIDERS_WITH_SHORT_WINDOW)
    return indexed(place, "sessions", emulator, account_id="", credential=KEY, **kwargs)


async def indexed_registrations(crawl: Indexed) -> set[tuple[str, str, str]]:
    emails = {p.provider_id: p.email.lower() for p in await crawl.participants()}
    return {(emails[r.participant_id], r.session_id, r.status) for r in await crawl.registrations()}


@pytest.mark.parametrize("envelope", [None, "data"], ids=["bare arrays", "data envelope"])
async def test_every_person_and_registration_is_indexed_as_the_mapping_says(
    place: Place, envelope: str | None
) -> None:
    emulator = _emulator(rate_limit=(1000, 1), envelope=envelope)  # headers allow it all
    async with crawl(place, emulator, providers=PROVIDERS) as sessions:
        assert (await sessions.sync()).synced
        people = {p.email.lower(): p for p in await sessions.participants()}
        registrations = await indexed_registrations(sessions)
        stored = {r.provider_id: r for r in await sessions.registrations()}
        indexed_sessions = {s.provider_id: s for s in await sessions.sessions()}
    expected_people = emulator.dataset.people()
    assert set(people) == set(expected_people)
    for email, person in expected_people.items():
        assert people[email].name == person["name"]
        assert people[email].email.lower() == email
        assert email not in people[email].provider_id  # the id never shows the email
    assert registrations == emulator.dataset.registrations()
    created = {s["id"]: s["createdAt"] for s in emulator.dataset.sessions}
    for registration in stored.values():
        expected = None if registration.status == "cancelled" else created[registration.session_id]
        assert registration.confirmed_at == expected
    assert set(indexed_sessions) == set(created)
    assert {r.status for r in stored.values()} == {"confirmed", "cancelled"}


@pytest.mark.slow
async def test_a_crawl_longer_than_a_window_waits_instead_of_pushing_past_the_limit(
    place: Place,
) -> None:
    emulator = _emulator(rate_limit=(10, 1))
    async with crawl(place, emulator, providers=PROVIDERS) as sessions:
        assert (await sessions.sync()).synced  # the documented minute: headers say 1 s
        waited = sessions.progress[-1].waited_seconds
    assert emulator.total_requests > 20  # more than two windows' worth
    assert emulator.into_full_window == 0
    assert waited > 0


@pytest.mark.slow
async def test_without_headers_the_documented_limit_paces_the_crawl(place: Place) -> None:
    emulator = _emulator(rate_limit=(10, 1), rate_limit_headers=False)
    async with crawl(place, emulator) as sessions:
        assert (await sessions.sync()).synced
    assert emulator.total_requests > 20
    assert emulator.into_full_window <= 1  # at most the one a window's edge can cost


async def test_a_429_is_waited_out_and_the_crawl_goes_on(place: Place) -> None:
    emulator = _emulator(rate_limit=None)
    faults = emulator.faults
    faults.status, faults.retry_after, faults.fail_next = 429, 1, 1
    async with crawl(place, emulator, providers=PROVIDERS_UNPACED) as sessions:
        began = asyncio.get_running_loop().time()
        outcome = await sessions.sync()
        assert outcome.synced, outcome
        assert asyncio.get_running_loop().time() - began >= 1
        assert (await sessions.status()).participants == len(emulator.dataset.people())


async def test_an_interrupted_crawl_fetches_no_committed_page_again(place: Place) -> None:
    emulator = _emulator(rate_limit=None)
    paths: list[str] = []
    app = emulator.app

    async def recording(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            path = scope["path"].removeprefix(scope["root_path"])  # where it is mounted
            paths.append(f"{path}?{scope['query_string'].decode()}")
        await app(scope, receive, send)

    emulator.app = recording
    async with crawl(place, emulator) as sessions:
        task = asyncio.create_task(sessions.sync())
        while len(sessions.progress) < 8:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        committed = len(sessions.progress)
        first_run = paths[:committed]
        paths.clear()
        assert (await sessions.sync()).synced
        assert await indexed_registrations(sessions) == emulator.dataset.registrations()
    participants_calls = [p for p in first_run if p.endswith("/participants?")]
    assert participants_calls and not set(participants_calls) & set(paths)
    # Sessions' first page is full (20 of them): read once. (The bookings fit one partial
    # page, which every sync reads again for what is new.)
    assert "/api/sessions?page=1" in first_run and "/api/sessions?page=1" not in paths


async def test_a_second_sync_on_unchanged_data_costs_at_most_the_bounded_recheck(
    place: Place,
) -> None:
    emulator = _emulator(rate_limit=None, now=datetime.now(UTC))
    async with crawl(place, emulator, providers=PROVIDERS_UNPACED) as sessions:
        assert (await sessions.sync()).synced
        emulator.reset_counts()
        assert (await sessions.sync()).synced
        assert emulator.requests["sessions.list"] == 1
        assert emulator.requests["bookings.list"] == 1
        assert 1 <= emulator.requests["participants.list"] <= 5
        assert emulator.total_requests <= 7
        # A new session and booking are picked up by the next sync.
        added = emulator.add_session()
        booking = emulator.add_booking(added["id"], "new.person@example.com", "New Person")
        emulator.reset_counts()
        assert (await sessions.sync()).synced
        assert await indexed_registrations(sessions) == emulator.dataset.registrations()
        assert booking["sessionId"] == added["id"]


async def test_a_refused_key_is_a_clear_sync_error(place: Place) -> None:
    emulator = _emulator()
    async with indexed(place, "sessions", emulator, account_id="", credential="wrong") as sessions:
        outcome = await sessions.sync()
        assert not outcome.synced and outcome.error and "refused the credential" in outcome.error
        assert (await sessions.status()).last_error == outcome.error
