"""The Sessionboard crawler, driven by the sync worker against the emulator over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from server.providers.sessionboard import mapping
from server.providers.sessionboard.emulated.dataset import SessionboardDataset, generate_dataset
from server.providers.sessionboard.emulated.emulator import create_emulator
from tests.server.providers.indexing import Indexed, Place, indexed

TOKEN = "sb-token"
ORG = "tremble-org"


def _emulator(contacts: int = 300) -> Any:
    return create_emulator(
        generate_dataset(seed=3, contacts=contacts), token=TOKEN, organization_id=ORG
    )


def _expected(dataset: SessionboardDataset, connection: str) -> tuple[dict[str, Any], set[Any]]:
    """What the live adapter makes of the data set: participants by id, and registrations
    as (participant, id, status, confirmedAt, session)."""
    people = {}
    for raw in dataset.contacts:
        record = mapping.participant(connection, msgspec.convert(raw, mapping.Contact))
        people[record.key.provider_id] = (record.name, record.email, record.created_at)
    registrations = set()
    for event, sessions in dataset.sessions_by_event.items():
        for raw in sessions:
            session = msgspec.convert(raw, mapping.Session)
            for contact in {str(p.id) for p in (*session.participants, *session.speakers)}:
                r = mapping.registration(event, session, contact)
                if r is not None:
                    registrations.add(
                        (contact, r.provider_id, r.status, r.confirmed_at, r.session_id)
                    )
    return people, registrations


def _pages(items: int) -> int:
    return 1 if items <= 100 else 1 + -(-(items - 100) // 99)


async def _indexed(crawl: Indexed) -> tuple[dict[str, Any], set[Any]]:
    people = {p.provider_id: (p.name, p.email, p.created_at) for p in await crawl.participants()}
    registrations = {
        (r.participant_id, r.provider_id, r.status, r.confirmed_at, r.session_id)
        for r in await crawl.registrations()
    }
    return people, registrations


async def test_a_full_crawl_indexes_every_contact_and_registration_as_the_live_adapter_maps_them(
    place: Place,
) -> None:
    emulator = _emulator()
    async with indexed(place, "sessionboard", emulator, account_id=ORG, credential=TOKEN) as crawl:
        outcome = await crawl.sync()
        assert outcome.synced and outcome.error is None
        people, registrations = await _indexed(crawl)
        order = [p.provider_id for p in await crawl.participants()]
        sessions = {s.provider_id for s in await crawl.sessions()}
        expected = _expected(emulator.dataset, crawl.public_id)
    assert people == expected[0]
    assert registrations == expected[1]
    assert len(registrations) > 500
    # listed in the live adapter's order: creation order
    assert order == [str(c["id"]) for c in emulator.dataset.contacts]
    every = {
        f"{e}/{s['id']}" for e, rows in emulator.dataset.sessions_by_event.items() for s in rows
    }
    assert sessions == every
    # 1 events page; contacts and each event's sessions 100 a page (each page after the
    # first brings back the item the last one ended on, to catch its ties: 99 new)
    pages = [_pages(len(rows)) for rows in emulator.dataset.sessions_by_event.values()]
    assert emulator.requests == {
        "events.list": 1,
        "contacts.search": _pages(300),
        "sessions.search": sum(pages),
    }


async def test_an_incremental_crawl_picks_up_changes_and_costs_a_page_per_list_when_none(
    place: Place,
) -> None:
    emulator = _emulator()
    events = len(emulator.dataset.events)
    async with indexed(place, "sessionboard", emulator, account_id=ORG, credential=TOKEN) as crawl:
        await crawl.sync()
        emulator.reset_counts()
        assert (await crawl.sync()).synced
        # unchanged data: the events list, one contacts page, one sessions page per event
        assert emulator.total_requests == 2 + events
        assert emulator.requests["contacts.search"] == 1

        contact = emulator.dataset.contacts[10]
        session = next(
            (e, s)
            for e, rows in emulator.dataset.sessions_by_event.items()
            for s in rows
            if s["status"] == "pending"
            and contact["id"] not in {p["id"] for p in s["participants"]}
        )
        key = f"{session[0]}/{session[1]['id']}"
        pair = f"{key}/{contact['id']}"
        for change in (
            {"kind": "participant", "op": "change", "id": contact["id"], "name": "Ada Lovelace"},
            {"kind": "registration", "op": "add", "participant": contact["id"], "session": key},
            {"kind": "registration", "op": "change", "id": pair, "status": "accepted"},
        ):
            emulator.mutate(change)
        added = emulator.mutate(
            {"kind": "participant", "op": "add", "name": "New Person", "email": "new@example.org"}
        )
        emulator.reset_counts()
        assert (await crawl.sync()).synced
        assert emulator.total_requests == 2 + events  # a few changes fit the same pages
        people, registrations = await _indexed(crawl)
        expected = _expected(emulator.dataset, crawl.public_id)
    assert people[str(contact["id"])][0] == "Ada Lovelace"
    assert str(added["id"]) in people
    assert people == expected[0]
    assert registrations == expected[1]
    [mine] = [r for r in registrations if r[1] == pair]
    assert mine[2] == "confirmed"


async def test_a_full_crawl_yields_only_the_registrations_that_still_stand(place: Place) -> None:
    """The engine removes what a full crawl no longer finds; the crawl must find exactly
    what stands."""
    emulator = _emulator(contacts=120)
    async with indexed(place, "sessionboard", emulator, account_id=ORG, credential=TOKEN) as crawl:
        await crawl.sync()
        session_event, session = next(
            (e, s)
            for e, rows in emulator.dataset.sessions_by_event.items()
            for s in rows
            if s["participants"]
        )
        leaver = session["participants"][0]["id"]
        pair = f"{session_event}/{session['id']}/{leaver}"
        emulator.mutate({"kind": "registration", "op": "remove", "id": pair})
        config = (await crawl.worker.tracked_configs(connection=crawl.public_id))[0]
        spec = crawl.services.spec("sessionboard")
        assert spec is not None and spec.crawler is not None
        http = crawl.services.runtimes.http_for(spec, config, wait_for_budget=True)
        crawler = spec.crawler(http, config.connection, None, lambda x: x)  # type: ignore[arg-type]
        found = set()
        async for batch in crawler.crawl(None, datetime.now(UTC)):
            found |= {(p, r.provider_id) for p, r, _ in batch.registrations}
        expected = _expected(emulator.dataset, crawl.public_id)[1]
    assert found == {(p, i) for p, i, *_ in expected}
    assert (str(leaver), pair) not in found
