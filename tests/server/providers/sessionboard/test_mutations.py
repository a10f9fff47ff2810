"""The Sessionboard emulator's data changing while it runs (`POST /__mutate`), seen over
HTTP through its searches and their `updatedAt` filters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from server.providers.sessionboard.emulated.dataset import SessionboardDataset, generate_dataset
from server.providers.sessionboard.emulated.emulator import SessionboardEmulator, create_emulator

TOKEN = "sb-test-token"
ORG = 4242
HEADERS = {"x-access-token": TOKEN}
BASE = "http://sessionboard.test"
CONTACTS = f"/v1/organization/{ORG}/contacts"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def dataset() -> SessionboardDataset:
    return generate_dataset(seed=5, contacts=120)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 6, 1, 12, 0, 0, 123_456, tzinfo=UTC))


@pytest.fixture
def emulator(dataset: SessionboardDataset, clock: Clock) -> SessionboardEmulator:
    return create_emulator(dataset, token=TOKEN, organization_id=ORG, rate_limit=None, now=clock)


@pytest.fixture
async def client(emulator: SessionboardEmulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=HEADERS) as http:
        yield http


async def mutate(client: httpx.AsyncClient, **change: Any) -> dict[str, Any]:
    response = await client.post("/__mutate", json=change)
    assert response.status_code == 200, response.text
    return response.json()


async def search(client: httpx.AsyncClient, path: str, body: dict | None = None) -> list[dict]:
    """Every row of a search, page by page."""
    rows: list[dict] = []
    page = 1
    while True:
        params = {"page": page, "pageSize": 100}
        payload = (await client.post(path, params=params, json=body)).json()
        rows.extend(payload["data"])
        if page >= payload["pagination"]["totalPages"]:
            return rows
        page += 1


def since(watermark: str) -> dict:
    """Sessionboard's changed-since search body."""
    return {"filters": {"updatedAt": {"after": watermark}}, "sort": {"order": "updatedAt"}}


def newest(dataset: SessionboardDataset) -> str:
    sessions = [s for rows in dataset.sessions_by_event.values() for s in rows]
    return max((*dataset.contacts, *sessions), key=lambda row: row["updated_at"])["updated_at"]


def sessions_path(event: int) -> str:
    return f"/v1/event/{event}/sessions"


def a_session(dataset: SessionboardDataset, people: int = 2) -> tuple[int, dict]:
    """An event and one of its sessions listing at least `people` contacts."""
    for event in dataset.events:
        for session in dataset.sessions_by_event[event["id"]]:
            if len({p["id"] for p in (*session["participants"], *session["speakers"])}) >= people:
                return event["id"], session
    raise AssertionError("no such session")


async def test_mutate_needs_the_access_token_and_has_no_purchases(
    emulator: SessionboardEmulator,
) -> None:
    transport = httpx.ASGITransport(app=emulator.app)
    change = {"kind": "participant", "op": "add", "name": "Ada Lovelace"}
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as bare:
        anonymous = await bare.post("/__mutate", json=change)
        wrong = await bare.post("/__mutate", json=change, headers={"x-access-token": "nope"})
        bought = await bare.post(
            "/__mutate", json={"kind": "purchase", "op": "add"}, headers=HEADERS
        )
    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.json()["error"] == "Unauthorized" and anonymous.json()["message"]
    assert bought.status_code == 400
    assert bought.json() == {
        "error": "Bad Request",
        "message": "Sessionboard has no purchases: it takes participant, registration",
    }
    assert emulator.total_requests == 0


async def test_a_token_without_read_scopes_still_makes_changes(
    dataset: SessionboardDataset,
) -> None:
    emulator = create_emulator(dataset, token=TOKEN, organization_id=ORG, scopes=())
    done = emulator.mutate({"kind": "participant", "op": "add", "name": "Solo"})
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=HEADERS) as http:
        response = await http.post(
            "/__mutate", json={"kind": "participant", "op": "remove", "id": done["id"]}
        )
        listing = await http.post(CONTACTS)
    assert response.status_code == 200 and listing.status_code == 403


async def test_contacts_added_changed_and_removed_are_exactly_what_an_updated_at_search_finds(
    client: httpx.AsyncClient, dataset: SessionboardDataset, clock: Clock
) -> None:
    watermark = newest(dataset)
    added = await mutate(
        client, kind="participant", op="add", name="Ada King Lovelace", email="ada@example.com"
    )
    contact = added["record"]
    assert contact["first_name"] == "Ada" and contact["last_name"] == "King Lovelace"
    assert contact["created_at"] == contact["updated_at"] == "2026-06-01T12:00:00.123Z"
    assert contact["id"] not in {c["id"] for c in dataset.contacts}
    clock.now += timedelta(minutes=1)
    old = dataset.contacts[10]
    renamed = await mutate(client, kind="participant", op="change", id=old["id"], title="CFO")
    await mutate(client, kind="participant", op="remove", id=str(dataset.contacts[11]["id"]))

    found = await search(client, CONTACTS, since(watermark))
    assert found == [contact, renamed["record"]]
    assert renamed["record"]["updated_at"] == "2026-06-01T12:01:00.123Z"
    assert renamed["record"]["created_at"] == old["created_at"]
    everyone = await search(client, CONTACTS)
    assert everyone[-1] == contact  # in creation order, the newest last
    assert dataset.contacts[11]["id"] not in {c["id"] for c in everyone}
    assert len(everyone) == len(dataset.contacts)


async def test_registrations_added_changed_and_removed_show_in_the_sessions_and_their_updates(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    event, session = a_session(dataset, people=2)
    listed = [p["id"] for p in (*session["participants"], *session["speakers"])]
    newcomer = next(c for c in dataset.contacts if c["id"] not in listed)
    watermark = newest(dataset)
    ref = f"{event}/{session['id']}"
    added = await mutate(
        client, kind="registration", op="add", participant=newcomer["id"], session=ref
    )
    assert added["id"] == f"{ref}/{newcomer['id']}"
    shown = added["record"]["participants"][-1]
    assert shown["id"] == newcomer["id"] and shown["participant_role"]["slug"] == "attendee"
    status = "declined" if session["status"] != "declined" else "accepted"
    changed = await mutate(client, kind="registration", op="change", id=added["id"], status=status)
    assert {t["id"] for t in changed["touched"]} == {
        f"{ref}/{c}" for c in {*listed, newcomer["id"]}
    }
    await mutate(client, kind="registration", op="remove", id=f"{ref}/{listed[0]}")

    found = await search(client, sessions_path(event), since(watermark))
    assert [s["id"] for s in found] == [session["id"]]
    now = found[0]
    assert now["status"] == status and now["created_at"] == session["created_at"]
    people = {p["id"] for p in (*now["participants"], *now["speakers"])}
    assert newcomer["id"] in people and listed[0] not in people
    fetched = await client.get(f"{sessions_path(event)}/{session['id']}")
    assert fetched.json() == now
    theirs = await client.get(f"/v1/event/{event}/contacts/{newcomer['id']}/sessions")
    assert session["id"] in {s["id"] for s in theirs.json()["results"]}


async def test_a_removed_contact_leaves_every_session_and_each_is_updated(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    contact_id = max(dataset.contacts, key=lambda c: len(dataset.sessions_of(c["id"])))["id"]
    theirs = dataset.sessions_of(contact_id)
    assert len(theirs) >= 2
    watermark = newest(dataset)
    done = await mutate(client, kind="participant", op="remove", id=contact_id)
    assert [t["id"] for t in done["touched"][1:]] == [
        f"{event}/{session['id']}/{contact_id}" for event, session in theirs
    ]
    for event in {event for event, _ in theirs}:
        found = await search(client, sessions_path(event), since(watermark))
        assert {s["id"] for s in found} == {s["id"] for e, s in theirs if e == event}
        for session in await search(client, sessions_path(event)):
            people = (*session["participants"], *session["speakers"])
            assert contact_id not in {p["id"] for p in people}
    gone = await client.get(f"/v1/event/{theirs[0][0]}/contacts/{contact_id}/sessions")
    assert gone.status_code == 404


async def test_a_new_name_shows_where_sessions_list_the_contact_without_updating_them(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    event, session = a_session(dataset, people=1)
    person = (*session["participants"], *session["speakers"])[0]
    await mutate(client, kind="participant", op="change", id=person["id"], name="New Name")
    now = (await client.get(f"{sessions_path(event)}/{session['id']}")).json()
    shown = next(p for p in (*now["participants"], *now["speakers"]) if p["id"] == person["id"])
    assert (shown["first_name"], shown["last_name"]) == ("New", "Name")
    assert now["updated_at"] == session["updated_at"]


async def test_participants_who_join_with_a_session_are_registered_in_it(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    event, session = a_session(dataset, people=0)
    ref = f"{event}/{session['id']}"
    done = await mutate(
        client, kind="participant", op="add", name="Speaker Person", session=ref, role="speaker"
    )
    assert [(t["kind"], t["op"]) for t in done["touched"]] == [
        ("participant", "add"),
        ("registration", "add"),
    ]
    now = (await client.get(f"{sessions_path(event)}/{session['id']}")).json()
    assert now["speakers"][-1]["id"] == done["id"] and now["updated_at"] == done["at"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"kind": "participant", "op": "change", "id": 1, "name": "X"}, 404),
        ({"kind": "participant", "op": "change", "id": "abc", "name": "X"}, 404),
        ({"kind": "registration", "op": "change", "id": "1/2/3", "status": "accepted"}, 404),
        ({"kind": "registration", "op": "add", "participant": 1}, 400),
        ({"kind": "registration", "op": "change", "id": "1/2/3", "status": "done"}, 400),
        ({"kind": "participant", "op": "add", "company": "Acme"}, 400),
    ],
)
async def test_bad_changes_are_bad_requests_and_unknown_records_not_found(
    client: httpx.AsyncClient, change: dict, status: int
) -> None:
    response = await client.post("/__mutate", json=change)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "message"}


async def test_joining_a_session_twice_is_a_conflict(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    event, session = a_session(dataset, people=1)
    person = session["participants"][0] if session["participants"] else session["speakers"][0]
    role = "participant" if session["participants"] else "speaker"
    again = {
        "kind": "registration",
        "op": "add",
        "participant": person["id"],
        "session": f"{event}/{session['id']}",
        "role": role,
    }
    assert (await client.post("/__mutate", json=again)).status_code == 409
