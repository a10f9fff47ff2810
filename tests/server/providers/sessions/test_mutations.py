"""The Sessions emulator's data changing while it runs (`POST /__mutate`), seen over HTTP
through its lists (Sessions has no changed-since filter: what is new comes last)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from server.providers.sessions.emulated.dataset import SessionsDataset, generate_dataset
from server.providers.sessions.emulated.emulator import SessionsEmulator, create_emulator

KEY = "sessions-test-key"
HEADERS = {"x-api-key": KEY}
BASE = "http://sessions.test"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def dataset() -> SessionsDataset:
    return generate_dataset(seed=4, size=60)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 6, 1, 12, 0, 0, 123_456, tzinfo=UTC))


@pytest.fixture
def emulator(dataset: SessionsDataset, clock: Clock) -> SessionsEmulator:
    return create_emulator(dataset, api_key=KEY, rate_limit=None, now=clock)


@pytest.fixture
async def client(emulator: SessionsEmulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=HEADERS) as http:
        yield http


async def mutate(client: httpx.AsyncClient, **change: Any) -> dict[str, Any]:
    response = await client.post("/__mutate", json=change)
    assert response.status_code == 200, response.text
    return response.json()


async def every(client: httpx.AsyncClient, path: str) -> list[dict]:
    rows: list[dict] = []
    page = 1
    while True:
        body = (await client.get(path, params={"page": page})).json()
        rows += body
        if len(body) < 20:
            return rows
        page += 1


async def participants(client: httpx.AsyncClient, session_id: str) -> list[dict]:
    return (await client.get(f"/api/sessions/{session_id}/participants")).json()


def emails(entries: list[dict]) -> list[str]:
    return [(e["user"] or e["guest"])["email"].lower() for e in entries if not e["isOwner"]]


def a_person(dataset: SessionsDataset) -> str:
    """Someone seen both in a participants list and in a booking."""
    booked = {b["participantEmail"].lower() for b in dataset.bookings}
    listed = {
        email
        for session in dataset.sessions
        for email in emails(list(dataset.participants[session["id"]]))
    }
    return sorted(booked & listed)[0]


async def test_mutate_needs_the_api_key_and_sessions_has_no_purchases(
    emulator: SessionsEmulator,
) -> None:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as bare:
        anonymous = await bare.post("/__mutate", json={"kind": "participant", "op": "add"})
        bought = await bare.post(
            "/__mutate", json={"kind": "purchase", "op": "add"}, headers=HEADERS
        )
    assert anonymous.status_code == 401
    assert anonymous.json() == {"statusCode": 401, "message": "Unauthorized"}
    assert bought.status_code == 400 and bought.json()["statusCode"] == 400
    assert "no purchases" in bought.json()["message"]


async def test_changes_use_none_of_the_keys_ten_requests_a_minute(
    dataset: SessionsDataset,
) -> None:
    emulator = create_emulator(dataset, api_key=KEY, clock=lambda: 1_000.0)
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=HEADERS) as http:
        assert all([(await http.get("/api/events")).status_code == 200 for _ in range(10)])
        change = {"kind": "participant", "op": "remove", "id": a_person(dataset)}
        assert (await http.post("/__mutate", json=change)).status_code == 200
        assert (await http.get("/api/events")).status_code == 429
    assert emulator.total_requests == 11 and emulator.into_full_window == 1


async def test_a_newcomer_who_books_is_the_last_booking_created_at_the_change(
    client: httpx.AsyncClient, dataset: SessionsDataset
) -> None:
    session = dataset.sessions[-1]
    done = await mutate(
        client,
        kind="participant",
        op="add",
        name="Ada Lovelace",
        email="Ada@Example.com",
        session=session["id"],
    )
    assert done["id"] == "ada@example.com"
    assert [(t["kind"], t["op"], t["resource"]) for t in done["touched"]] == [
        ("participant", "add", "person"),
        ("registration", "add", "booking"),
    ]
    bookings = await every(client, "/api/bookings")
    assert bookings == [*dataset.bookings, done["record"]]
    booking = bookings[-1]
    assert booking["createdAt"] == done["at"] == "2026-06-01T12:00:00.123Z"
    assert (booking["participantName"], booking["sessionId"]) == ("Ada Lovelace", session["id"])
    assert booking["cancelled"] is False and booking["startAt"] == session["startAt"]


async def test_a_newcomer_who_joins_the_participants_list_is_listed_last_as_a_guest(
    client: httpx.AsyncClient, emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    session = dataset.sessions[2]
    done = await mutate(
        client,
        kind="participant",
        op="add",
        name="Grace Hopper",
        email="grace@example.com",
        session=session["id"],
        via="participants",
    )
    listed = await participants(client, session["id"])
    assert listed == [*dataset.participants[session["id"]], done["record"]]
    guest = listed[-1]["guest"]
    assert (guest["firstName"], guest["lastName"], guest["email"]) == (
        "Grace",
        "Hopper",
        "grace@example.com",
    )
    assert ("grace@example.com", session["id"], "confirmed") in emulator.dataset.registrations()
    assert await every(client, "/api/bookings") == list(dataset.bookings)


async def test_a_booking_registered_then_cancelled_keeps_its_place_and_its_creation_time(
    client: httpx.AsyncClient, emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    person = a_person(dataset)
    taken = {b["sessionId"] for b in dataset.bookings if b["participantEmail"].lower() == person}
    session = next(s for s in dataset.sessions if s["id"] not in taken)
    added = await mutate(
        client, kind="registration", op="add", participant=person.upper(), session=session["id"]
    )
    cancelled = await mutate(
        client, kind="registration", op="change", id=added["id"], cancelled=True
    )
    bookings = await every(client, "/api/bookings")
    assert bookings[-1] == cancelled["record"] == {**added["record"], "cancelled": True}
    assert bookings[-1]["createdAt"] == added["at"] < cancelled["at"]
    assert bookings[-1]["participantName"] == dataset.people()[person]["name"]
    assert (person, session["id"], "cancelled") in emulator.dataset.registrations()
    restore = {"kind": "registration", "op": "change", "id": added["id"], "cancelled": False}
    assert (await client.post("/__mutate", json=restore)).status_code == 409


async def test_registrations_are_removed_from_bookings_and_participants_lists_but_not_owners(
    client: httpx.AsyncClient, dataset: SessionsDataset
) -> None:
    booking = dataset.bookings[0]
    session_id = next(sid for sid, rows in dataset.participants.items() if len(rows) > 1)
    owner, entry = dataset.participants[session_id][:2]
    await mutate(client, kind="registration", op="remove", id=booking["id"])
    await mutate(client, kind="registration", op="remove", id=entry["id"])
    assert await every(client, "/api/bookings") == list(dataset.bookings[1:])
    assert await participants(client, session_id) == [
        e for e in dataset.participants[session_id] if e["id"] != entry["id"]
    ]
    by_owner = {"kind": "registration", "op": "remove", "id": owner["id"]}
    assert (await client.post("/__mutate", json=by_owner)).status_code == 400
    other = next(
        e
        for rows in dataset.participants.values()
        for e in rows
        if not e["isOwner"] and e["id"] != entry["id"]
    )
    status = {"kind": "registration", "op": "change", "id": other["id"], "cancelled": True}
    assert (await client.post("/__mutate", json=status)).status_code == 400


async def test_a_removed_person_leaves_every_list_and_has_no_registrations_left(
    client: httpx.AsyncClient, emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    person = a_person(dataset)
    done = await mutate(client, kind="participant", op="remove", id=person)
    kinds = {(t["kind"], t["op"]) for t in done["touched"]}
    assert kinds == {("participant", "remove"), ("registration", "remove")}
    for session in await every(client, "/api/sessions"):
        assert person not in emails(await participants(client, session["id"]))
        summary = session["booking"]
        assert summary is None or summary["participantEmail"].lower() != person
    for booking in await every(client, "/api/bookings"):
        assert booking["participantEmail"].lower() != person
        assert person not in [guest.lower() for guest in booking["guests"]]
    assert all(email != person for email, _, _ in emulator.dataset.registrations())
    for event in await every(client, "/api/events"):
        assert (
            event["session"] == (await client.get(f"/api/sessions/{event['session']['id']}")).json()
        )


async def test_a_new_name_shows_on_every_sighting_and_a_new_email_is_someone_else(
    client: httpx.AsyncClient, emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    person = a_person(dataset)
    renamed = await mutate(client, kind="participant", op="change", id=person, name="Jo Doe")
    assert renamed["touched"] == [
        {"kind": "participant", "op": "change", "id": person, "resource": "person"}
    ]
    assert emulator.dataset.people()[person]["name"] == "Jo Doe"
    for booking in await every(client, "/api/bookings"):
        if booking["participantEmail"].lower() == person:
            assert booking["participantName"] == "Jo Doe"
    moved = await mutate(client, kind="participant", op="change", id=person, email="jo@doe.example")
    assert [(t["op"], t["id"]) for t in moved["touched"]] == [
        ("remove", person),
        ("add", "jo@doe.example"),
    ]
    people = emulator.dataset.people()
    assert person not in people and people["jo@doe.example"]["name"] == "Jo Doe"
    assert await every(client, "/api/bookings") != list(dataset.bookings)
    assert [b["createdAt"] for b in await every(client, "/api/bookings")] == [
        b["createdAt"] for b in dataset.bookings
    ]  # Sessions records have no update time: changes leave creation times alone


async def test_changes_are_stamped_after_everything_the_workspace_shows_even_on_a_stale_clock(
    dataset: SessionsDataset,
) -> None:
    emulator = create_emulator(dataset, api_key=KEY, now=lambda: datetime(2020, 1, 1, tzinfo=UTC))
    newest = max(row["createdAt"] for row in (*dataset.sessions, *dataset.bookings))
    session = dataset.sessions[0]["id"]
    stamps = [
        emulator.mutate(
            {
                "kind": "participant",
                "op": "add",
                "name": f"N{n} Person",
                "email": f"n{n}@example.com",
                "session": session,
            }
        )["at"]
        for n in range(4)
    ]
    assert stamps == sorted(set(stamps)) and stamps[0] > newest
    made = emulator.add_booking(session, "later@example.com", "Later Person")
    assert (
        emulator.mutate({"kind": "participant", "op": "remove", "id": "n0@example.com"})["at"]
        > made["createdAt"]
    )


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"kind": "participant", "op": "add", "name": "A B", "email": "a@b.c"}, 400),
        ({"kind": "participant", "op": "add", "email": "a@b.c", "session": "x"}, 400),
        ({"kind": "participant", "op": "add", "name": "A", "email": "a@b.c", "session": "x"}, 404),
        ({"kind": "participant", "op": "change", "id": "nobody@x.y", "name": "A"}, 404),
        ({"kind": "registration", "op": "remove", "id": "nothing"}, 404),
        ({"kind": "registration", "op": "change", "id": "nothing", "cancelled": "yes"}, 400),
    ],
)
async def test_bad_changes_are_bad_requests_and_unknown_records_not_found(
    client: httpx.AsyncClient, change: dict, status: int
) -> None:
    response = await client.post("/__mutate", json=change)
    assert response.status_code == status, response.text
    assert response.json()["statusCode"] == status
