"""The Boxpressd emulator's data changing while it runs (`POST /__mutate`), seen over HTTP
through the sessions list and its `from` filter on `createdAt`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from server.providers.boxpressd.emulated.dataset import BoxpressdDataset, generate_dataset
from server.providers.boxpressd.emulated.emulator import BoxpressdEmulator, create_emulator

KEY = "bxp-test-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}
BASE = "http://boxpressd.test"
SESSIONS = "/venues/stogies-chapin/sessions"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def dataset() -> BoxpressdDataset:
    return generate_dataset(seed=6, sessions=120, users=40)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 6, 1, 12, 0, 0, 123_456, tzinfo=UTC))


@pytest.fixture
def emulator(dataset: BoxpressdDataset, clock: Clock) -> BoxpressdEmulator:
    return create_emulator(dataset, api_key=KEY, now=clock)


@pytest.fixture
async def client(emulator: BoxpressdEmulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=HEADERS) as http:
        yield http


async def mutate(client: httpx.AsyncClient, **change: Any) -> dict[str, Any]:
    response = await client.post("/__mutate", json=change)
    assert response.status_code == 200, response.text
    return response.json()


async def every(client: httpx.AsyncClient, **params: str) -> list[dict]:
    rows: list[dict] = []
    while True:
        query = {**params, "limit": "100", "offset": str(len(rows))}
        payload = (await client.get(SESSIONS, params=query)).json()
        rows += payload["data"]
        if payload["meta"]["count"] < 100:
            return rows


def regular(dataset: BoxpressdDataset) -> str:
    """The user with the most sessions."""
    counts: dict[str, int] = {}
    for session in dataset.sessions:
        counts[session["user"]["id"]] = counts.get(session["user"]["id"], 0) + 1
    return max(counts, key=lambda user: (counts[user], user))


async def test_mutate_needs_the_bearer_key_and_boxpressd_has_no_purchases(
    emulator: BoxpressdEmulator,
) -> None:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as bare:
        anonymous = await bare.post("/__mutate", json={"kind": "participant", "op": "add"})
        bought = await bare.post(
            "/__mutate", json={"kind": "purchase", "op": "add"}, headers=HEADERS
        )
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    assert bought.status_code == 400 and bought.json()["error"]["code"] == "bad_request"
    assert "no purchases" in bought.json()["error"]["message"]


async def test_a_new_user_and_a_regulars_new_session_head_the_list_and_answer_a_from_query(
    client: httpx.AsyncClient, dataset: BoxpressdDataset
) -> None:
    watermark = dataset.sessions[0]["createdAt"]  # the newest a crawler has read
    joined = await mutate(client, kind="participant", op="add", name="Ada L.", note="First!")
    assert [(t["kind"], t["op"]) for t in joined["touched"]] == [
        ("participant", "add"),
        ("registration", "add"),
    ]
    first = joined["record"]
    assert first["createdAt"] == joined["at"] == "2026-06-01T12:00:00.123Z"
    assert first["user"]["displayName"] == "Ada L." and first["note"] == "First!"
    assert first["user"]["id"] == joined["id"] and first["id"] not in {
        s["id"] for s in dataset.sessions
    }
    again = await mutate(client, kind="registration", op="add", participant=regular(dataset))
    newer = await every(client, **{"from": watermark})
    assert [s["id"] for s in newer] == [again["id"], first["id"], dataset.sessions[0]["id"]]
    listed = await every(client)
    assert listed[:2] == [again["record"], first] and listed[2:] == list(dataset.sessions)
    assert again["record"]["createdAt"] > first["createdAt"]


async def test_a_renamed_user_shows_on_all_their_sessions_whose_times_stay(
    client: httpx.AsyncClient, dataset: BoxpressdDataset
) -> None:
    user = regular(dataset)
    await mutate(client, kind="participant", op="change", id=user, name="Renamed R.")
    listed = await every(client)
    theirs = [s for s in listed if s["user"]["id"] == user]
    assert len(theirs) > 1 and {s["user"]["displayName"] for s in theirs} == {"Renamed R."}
    assert [s["createdAt"] for s in listed] == [s["createdAt"] for s in dataset.sessions]


async def test_a_session_rerated_in_place_and_one_removed(
    client: httpx.AsyncClient, dataset: BoxpressdDataset
) -> None:
    rated, removed = dataset.sessions[3], dataset.sessions[4]
    done = await mutate(
        client, kind="registration", op="change", id=rated["id"], rating=5, note=None
    )
    assert done["record"] == {
        **{k: v for k, v in rated.items() if k != "note"},
        "rating": 5,
    }
    await mutate(client, kind="registration", op="remove", id=removed["id"])
    listed = await every(client)
    assert listed[3] == done["record"] and removed["id"] not in {s["id"] for s in listed}
    assert len(listed) == len(dataset.sessions) - 1
    refused = {"kind": "registration", "op": "change", "id": rated["id"], "status": "gone"}
    assert (await client.post("/__mutate", json=refused)).status_code == 400


async def test_a_removed_user_takes_all_their_sessions_and_a_last_session_takes_the_user(
    client: httpx.AsyncClient, dataset: BoxpressdDataset
) -> None:
    user = regular(dataset)
    done = await mutate(client, kind="participant", op="remove", id=user)
    theirs = [s["id"] for s in dataset.sessions if s["user"]["id"] == user]
    assert [t["id"] for t in done["touched"]] == [user, *theirs]
    assert user not in {s["user"]["id"] for s in await every(client)}
    joined = await mutate(client, kind="participant", op="add", name="Brief B.")
    last = await mutate(client, kind="registration", op="remove", id=joined["record"]["id"])
    assert [(t["kind"], t["id"]) for t in last["touched"]] == [
        ("registration", joined["record"]["id"]),
        ("participant", joined["id"]),
    ]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"kind": "participant", "op": "add"}, 400),
        ({"kind": "participant", "op": "change", "id": "usr_0", "name": "X"}, 404),
        ({"kind": "registration", "op": "add", "participant": "usr_0"}, 404),
        ({"kind": "registration", "op": "change", "id": "ses_0", "rating": 9}, 400),
        ({"kind": "registration", "op": "remove", "id": "ses_0"}, 404),
    ],
)
async def test_bad_changes_are_bad_requests_and_unknown_records_not_found(
    client: httpx.AsyncClient, change: dict, status: int
) -> None:
    response = await client.post("/__mutate", json=change)
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == {"code", "message"}
