"""A Boxpressd provider that misbehaves costs one bounded pass at a time: pages without
end, the same page again, bad or far-future timestamps, throttling and absurd waits each
end the pass within its bounds with a clear word in the sync state, and the index keeps
what it had. The provider's waits run on a fake clock."""

from __future__ import annotations

from typing import Any

from server.providers.boxpressd.emulated.dataset import generate_dataset
from server.providers.boxpressd.emulated.emulator import create_emulator
from server.providers.emulated.emulation import Faults
from server.store.index import Found
from tests.server.providers.hostile_indexed import EndlessBoxpressd
from tests.server.providers.indexing import Indexed, Place, indexed

KEY = "bp-key"
ACCOUNT = "venue/stogies-chapin"
SMALL = 512  # bytes: the largest checkpoint any of these crawls may leave


def crawl(place: Place, provider: Any, **settings: Any) -> Any:
    return indexed(
        place, "boxpressd", provider, account_id=ACCOUNT, credential=KEY, fake_time=True, **settings
    )


def _emulator(**options: Any) -> Any:
    dataset = generate_dataset(seed=5, sessions=300, users=60)
    return create_emulator(dataset, api_key=KEY, **options)


def served(emulator: Any, session_id: str) -> dict[str, Any]:
    [row] = [s for s in emulator.dataset.sessions if s["id"] == session_id]
    return row  # the very object the emulator answers with


async def counts(crawl: Indexed) -> tuple[int, int]:
    return len(await crawl.participants()), len(await crawl.registrations())


async def test_pages_without_end_are_crawled_one_bounded_pass_at_a_time(place: Place) -> None:
    provider = EndlessBoxpressd()
    async with crawl(place, provider, sync_pass_requests=7) as bp:
        first = await bp.sync()
        assert first.error is None and first.stopped and "its 7 requests" in first.stopped
        assert len(provider.requests) == 7
        assert (await bp.status()).registrations == 700
        assert await bp.checkpoint_bytes() <= SMALL
        second = await bp.sync()
        assert second.stopped and len(provider.requests) == 14
        offsets = [int(r.split("offset=")[1].split("&")[0]) for r in provider.requests]
        assert offsets == [100 * n for n in range(14)]  # on from the checkpoint
        assert await bp.checkpoint_bytes() <= SMALL


async def test_the_same_page_again_is_a_provider_failure(place: Place) -> None:
    provider = EndlessBoxpressd(same=True)
    async with crawl(place, provider) as bp:
        outcome = await bp.sync()
        assert outcome.error and "repeats items already read (100 of 100)" in outcome.error
        assert len(provider.requests) == 2
        assert (await bp.status()).last_error == outcome.error
        assert await counts(bp) == (100, 100)


async def test_a_bad_timestamp_fails_the_page_and_the_index_keeps_what_it_had(
    place: Place,
) -> None:
    emulator = _emulator()
    async with crawl(place, emulator) as bp:
        assert (await bp.sync()).synced
        before = await counts(bp)
        [added] = emulator.add_sessions(1)
        row = served(emulator, added["id"])
        good, row["createdAt"] = row["createdAt"], "2026-01-15T25:61:00Z"
        outcome = await bp.sync()
        assert not outcome.synced and outcome.error
        assert "unexpected response" in outcome.error and "createdAt" in outcome.error
        assert (await bp.status()).last_error == outcome.error
        assert await counts(bp) == before
        checkpoint, _ = await bp.checkpoint()
        assert "25:61" not in str(checkpoint)
        row["createdAt"] = good
        assert (await bp.sync()).synced  # no crash loop: the next good answer goes on
        assert await counts(bp) == (before[0] + 1, before[1] + 1)  # by a new user


async def test_a_checkpoint_an_earlier_crawler_spoilt_starts_the_crawl_afresh(
    place: Place,
) -> None:
    emulator = _emulator()
    async with crawl(place, emulator) as bp:
        assert (await bp.sync()).synced
        # What the earlier crawler kept from a bad `createdAt`: every later sync crashed.
        spoilt = Found(checkpoint={"newest": "2026-13-45T99:99:99Z"})
        await bp.services.index.commit(bp.connection_id, spoilt)
        emulator.reset_counts()
        assert (await bp.sync()).synced
        assert emulator.requests["sessions.list"] == 4  # every page again, to the empty one
        checkpoint, _ = await bp.checkpoint()
        assert checkpoint["newest"] == max(s["createdAt"] for s in emulator.dataset.sessions)


async def test_a_session_from_the_far_future_does_not_hide_later_ones(place: Place) -> None:
    emulator = _emulator()
    async with crawl(place, emulator) as bp:
        [future] = emulator.add_sessions(1)
        row = served(emulator, future["id"])
        created, row["createdAt"] = row["createdAt"], "9999-12-31T00:00:00.000Z"
        assert (await bp.sync()).synced
        checkpoint, _ = await bp.checkpoint()
        assert not checkpoint["newest"].startswith("9999")
        row["createdAt"] = created  # (else the emulator would date the next one after it)
        [later] = emulator.add_sessions(1)
        assert (await bp.sync()).synced
        assert later["id"] in {r.provider_id for r in await bp.registrations()}


async def test_throttling_saying_0_is_a_wait_until_the_pass_bound(place: Place) -> None:
    emulator = _emulator(faults=Faults(status=429, retry_after=0))
    async with crawl(place, emulator, sync_pass_requests=9) as bp:
        outcome = await bp.sync()
        assert outcome.error is None and outcome.stopped
        assert "throttled 9 of its 9 requests (HTTP 429)" in outcome.stopped
        assert emulator.total_requests == 9
        assert len(bp.time.sleeps) == 8 and min(bp.time.sleeps) >= 1  # between the 9
        emulator.faults.status = None
        assert (await bp.sync()).synced


async def test_a_retry_after_of_31_years_ends_the_pass_with_an_error(place: Place) -> None:
    emulator = _emulator(faults=Faults(status=429, retry_after=1_000_000_000))
    async with crawl(place, emulator) as bp:
        outcome = await bp.sync()
        assert outcome.error and "it asked to wait 1000000000 s (Retry-After)" in outcome.error
        assert emulator.total_requests == 1 and bp.time.sleeps == []
        assert (await bp.status()).last_error == outcome.error
