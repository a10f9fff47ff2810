"""The Boxpressd crawler, driven by the sync worker against the emulator over HTTP."""

from __future__ import annotations

import asyncio

import pytest

from server.providers.boxpressd.emulated.dataset import generate_dataset
from server.providers.boxpressd.emulated.emulator import create_emulator
from tests.server.providers.indexing import Place, indexed

KEY = "bp-key"
ACCOUNT = "venue/stogies-chapin"


def _emulator(sessions: int = 300, users: int = 60) -> object:
    return create_emulator(generate_dataset(seed=5, sessions=sessions, users=users), api_key=KEY)


async def test_every_user_and_smoke_session_is_indexed_as_the_mapping_says(place: Place) -> None:
    emulator = _emulator()
    async with indexed(place, "boxpressd", emulator, account_id=ACCOUNT, credential=KEY) as crawl:
        outcome = await crawl.sync()
        assert outcome.synced and outcome.error is None
        people = {p.provider_id: p for p in await crawl.participants()}
        registrations = {r.provider_id: r for r in await crawl.registrations()}
        sessions = {s.provider_id: s for s in await crawl.sessions()}
    wire = emulator.dataset.sessions
    assert {p: (v.name, v.email) for p, v in people.items()} == {
        u: (name, None) for u, name in emulator.dataset.users().items()
    }
    assert set(registrations) == {s["id"] for s in wire} == set(sessions)
    absent_start = 0
    for session in wire:
        registration = registrations[session["id"]]
        assert registration.participant_id == session["user"]["id"]
        assert registration.status == "attended"
        assert registration.confirmed_at == session.get("startedAt")
        assert registration.session_id == session["id"]
        assert sessions[session["id"]].title == (session.get("cigar") or {}).get("name")
        absent_start += "startedAt" not in session
    assert absent_start > 0  # absent optional fields were met, and are no failure


async def test_a_second_sync_fetches_only_what_is_new(place: Place) -> None:
    emulator = _emulator()
    async with indexed(place, "boxpressd", emulator, account_id=ACCOUNT, credential=KEY) as crawl:
        await crawl.sync()
        before = await crawl.status()
        emulator.reset_counts()
        added = emulator.add_sessions(5)
        assert (await crawl.sync()).synced
        after = await crawl.status()
    assert after.registrations == before.registrations + 5
    assert {r["id"] for r in added} <= {s["id"] for s in emulator.dataset.sessions}
    assert emulator.requests["sessions.list"] <= 2


async def test_an_interrupted_crawl_resumes_without_reading_a_committed_page_again(
    place: Place,
) -> None:
    emulator = _emulator(sessions=900, users=100)  # nine pages of 100
    offsets: list[int] = []
    app = emulator.app

    async def recording(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if p)
            offsets.append(int(query.get("offset", 0)))
        await app(scope, receive, send)

    emulator.app = recording
    async with indexed(place, "boxpressd", emulator, account_id=ACCOUNT, credential=KEY) as crawl:
        task = asyncio.create_task(crawl.sync())
        while len(crawl.progress) < 3:  # three pages committed
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        committed = (await crawl.status()).registrations
        assert committed >= 300
        first_run = list(offsets)
        offsets.clear()
        assert (await crawl.sync()).synced
        assert (await crawl.status()).registrations == 900
    assert offsets[0] == committed  # straight on from the last committed page
    assert not set(offsets) & set(first_run[: committed // 100])


@pytest.mark.parametrize(
    ("key", "account", "status", "says"),
    [
        ("wrong-key", ACCOUNT, 401, "refused the credential"),
        (KEY, "venue/other-lounge", 403, "refused the credential"),
        (KEY, "venue/nowhere-at-all", 404, "does not know this account"),
    ],
)
async def test_a_refused_credential_or_unknown_account_is_a_clear_sync_error(
    place: Place, key: str, account: str, status: int, says: str
) -> None:
    emulator = _emulator()
    async with indexed(place, "boxpressd", emulator, account_id=account, credential=key) as crawl:
        outcome = await crawl.sync()
        assert not outcome.synced and outcome.error and says in outcome.error
        assert (await crawl.status()).last_error == outcome.error
        assert (await crawl.status()).last_completed_at is None
