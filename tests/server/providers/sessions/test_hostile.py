"""A Sessions provider that misbehaves costs one bounded pass at a time: lists without end,
the same page again, absurd or meaningless rate-limit headers, throttling without end and
bad timestamps each end the pass within its bounds, with a clear word in the sync state,
and the index keeps what it had. The provider's waits run on a fake clock."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from server.providers.emulated.emulation import Faults
from server.providers.registry import PROVIDERS
from server.providers.sessions.emulated.dataset import generate_dataset
from server.providers.sessions.emulated.emulator import create_emulator
from server.providers.sessions.spec import SPEC
from server.providers.spec import OutboundLimit
from server.store.index import Found
from tests.server.providers.hostile_indexed import EndlessSessions, with_headers
from tests.server.providers.indexing import Indexed, Place, indexed

KEY = "sessions-key"
# Where the documented pace is not what a test is about, the crawler may send at once.
FAST = dataclasses.replace(SPEC, outbound=OutboundLimit(limit=1000, window_seconds=1))
UNPACED = tuple(FAST if p.name == "sessions" else p for p in PROVIDERS)
SMALL = 1024  # bytes: the largest checkpoint any of these crawls may leave


def crawl(place: Place, provider: Any, **settings: Any) -> Any:
    settings.setdefault("providers", UNPACED)
    return indexed(
        place, "sessions", provider, account_id="", credential=KEY, fake_time=True, **settings
    )


def _emulator(**options: Any) -> Any:
    return create_emulator(generate_dataset(seed=3, size=60), api_key=KEY, **options)


class Headers:
    """The emulator, its answers carrying `headers`."""

    def __init__(self, emulator: Any, headers: dict[str, str]) -> None:
        self.emulator = emulator
        self.app = with_headers(emulator.app, headers)


async def indexed_counts(sessions: Indexed) -> tuple[int, int, int]:
    return (
        len(await sessions.sessions()),
        len(await sessions.participants()),
        len(await sessions.registrations()),
    )


async def test_a_list_without_end_is_crawled_one_bounded_pass_at_a_time(place: Place) -> None:
    provider = EndlessSessions()
    async with crawl(place, provider, sync_pass_requests=50) as sessions:
        first = await sessions.sync()
        assert first.error is None and not first.synced
        assert first.stopped and "its 50 requests" in first.stopped
        assert len(provider.requests) == 50
        status = await sessions.status()
        assert status.last_error == first.stopped and "not caught up" in status.last_error
        assert status.last_completed_at is None
        assert await sessions.checkpoint_bytes() <= SMALL

        second = await sessions.sync()
        assert second.stopped and len(provider.requests) == 100
        assert await sessions.checkpoint_bytes() <= SMALL
        sessions_pages = [r for r in provider.requests if r.startswith("/api/sessions?")]
        # The second pass went on from the first's checkpoint: no page and no session's
        # participants were asked for twice.
        assert len(set(provider.requests)) == 100
        assert sessions_pages == [f"/api/sessions?page={n}" for n in range(1, 6)]
        assert (await sessions.status()).sessions == 100


async def test_the_same_page_again_is_a_provider_failure(place: Place) -> None:
    provider = EndlessSessions(same=True)
    async with crawl(place, provider) as sessions:
        outcome = await sessions.sync()
        assert not outcome.synced and outcome.error
        assert "repeats items already read (20 of 20)" in outcome.error
        # The first page and its 20 sessions' participants, then the page again: stop.
        assert len(provider.requests) == 22
        assert (await sessions.status()).last_error == outcome.error
        assert await indexed_counts(sessions) == (20, 20, 20)
        assert await sessions.checkpoint_bytes() <= SMALL


async def test_a_window_that_resets_in_31_years_ends_the_pass_and_is_not_kept(
    place: Place,
) -> None:
    emulator = _emulator(rate_limit=None)
    absurd = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0"}
    absurd["X-RateLimit-Reset"] = "1000000000"
    provider = Headers(emulator, absurd)
    async with crawl(place, provider, provider_wait_limit_seconds=120) as sessions:
        outcome = await sessions.sync()
        assert not outcome.synced and outcome.error == (
            "the provider failed: it asked to wait 1000000000 s (X-RateLimit-Reset), longer "
            "than the wait limit of 120 s (BUSINESS_API_PROVIDER_WAIT_LIMIT); the next "
            "pass asks again"
        )
        assert (await sessions.status()).last_error == outcome.error
        assert emulator.total_requests == 1  # the first page, kept
        assert (await sessions.status()).sessions == 20
        assert sum(sessions.time.sleeps) <= 120
        _, pace = await sessions.checkpoint()
        latest = sessions.time.now + 120
        assert all(resets <= latest for _, _, resets in pace["announced"].values())
        # The next pass asks again, at once: no 31 years inherited, nor slept.
        again = await sessions.sync()
        assert again.error == outcome.error
        assert sum(sessions.time.sleeps) <= 120


async def test_rate_limit_headers_that_are_no_numbers_are_ignored(place: Place) -> None:
    emulator = _emulator(rate_limit=None)
    nonsense = {
        "X-RateLimit-Limit": "nan",
        "X-RateLimit-Remaining": "inf",
        "X-RateLimit-Reset": "-5",
        "Retry-After": "nan",
    }
    async with crawl(place, Headers(emulator, nonsense)) as sessions:
        outcome = await sessions.sync()
        assert outcome.synced, outcome
        assert (await sessions.status()).participants == len(emulator.dataset.people())
        _, pace = await sessions.checkpoint()
        json.dumps(pace, allow_nan=False)  # nothing but numbers kept
        assert pace["announced"] == {}


async def test_a_429_saying_0_is_a_wait_of_at_least_a_second_and_the_crawl_goes_on(
    place: Place,
) -> None:
    emulator = _emulator(rate_limit=None, faults=Faults(status=429, retry_after=0, fail_next=10))
    async with crawl(place, emulator) as sessions:
        outcome = await sessions.sync()
        assert outcome.synced, outcome  # ten in a row: more than a call's tries
        assert len(sessions.time.sleeps) == 10 and min(sessions.time.sleeps) >= 1


async def test_throttling_without_end_stops_the_pass_at_its_bound(place: Place) -> None:
    emulator = _emulator(rate_limit=None, faults=Faults(status=429, retry_after=0))
    async with crawl(place, emulator, sync_pass_requests=12) as sessions:
        outcome = await sessions.sync()
        assert outcome.error is None and outcome.stopped == (
            "not caught up yet: this pass stopped because it sent its 12 requests "
            "(BUSINESS_API_SYNC_PASS_REQUESTS); the provider throttled 12 of its 12 "
            "requests (HTTP 429); the next pass goes on from where it stopped"
        )
        assert emulator.total_requests == 12
        assert min(sessions.time.sleeps) >= 1
        assert (await sessions.status()).last_error == outcome.stopped


async def test_a_pass_stops_when_its_time_is_up_rather_than_wait_past_it(place: Place) -> None:
    emulator = _emulator(rate_limit=None, faults=Faults(status=429, retry_after=100))
    async with crawl(place, emulator, sync_pass_seconds=250) as sessions:
        outcome = await sessions.sync()
        assert outcome.stopped and "its 250 s were up" in outcome.stopped
        assert emulator.total_requests == 3  # at 0, 100 and 200 s; the next at 300: past
        assert sessions.time.sleeps == [100, 100]


async def test_a_bad_timestamp_fails_the_page_and_the_next_good_sync_goes_on(
    place: Place,
) -> None:
    emulator = _emulator(rate_limit=None)
    async with crawl(place, emulator) as sessions:
        assert (await sessions.sync()).synced
        before = await indexed_counts(sessions)
        added = emulator.add_session()
        [served] = [s for s in emulator.dataset.sessions if s["id"] == added["id"]]
        good, served["createdAt"] = served["createdAt"], "2026-13-45T99:99:99Z"
        outcome = await sessions.sync()
        assert not outcome.synced and outcome.error
        assert "unexpected response" in outcome.error and "createdAt" in outcome.error
        assert (await sessions.status()).last_error == outcome.error
        assert await indexed_counts(sessions) == before
        served["createdAt"] = good
        assert (await sessions.sync()).synced
        assert added["id"] in {s.provider_id for s in await sessions.sessions()}


async def test_an_unreadable_checkpoint_starts_the_crawl_afresh(place: Place) -> None:
    emulator = _emulator(rate_limit=None)
    async with crawl(place, emulator) as sessions:
        await sessions.sync()  # takes the lease once: the sync state exists
        spoilt = {"sessions": "many", "page": [["not", "an id"]]}
        await sessions.services.index.commit(sessions.connection_id, Found(checkpoint=spoilt))
        emulator.reset_counts()
        assert (await sessions.sync()).synced
        assert emulator.requests["sessions.list"] >= 2  # from the first page again


async def test_an_earlier_checkpoint_with_every_pending_session_is_resumed(
    place: Place,
) -> None:
    emulator = _emulator(rate_limit=None)
    async with crawl(place, emulator) as sessions:
        await sessions.sync()
        listed = emulator.dataset.sessions
        # As the earlier crawler left it: every session listed, the last 25 still pending.
        earlier = {
            "sessions": len(listed),
            "bookings": 0,
            "pending": [[s["id"], s["createdAt"]] for s in listed[-25:]],
            "recheck_after": None,
        }
        await sessions.services.index.commit(sessions.connection_id, Found(checkpoint=earlier))
        emulator.reset_counts()
        assert (await sessions.sync()).synced
        fetched = emulator.requests["participants.list"]
        assert 25 <= fetched <= 25 + 5  # the pending ones, and the usual re-check
        assert await sessions.checkpoint_bytes() <= SMALL
