"""Behaviour of the Sessionboard emulator and its generated data, checked over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from server.providers.emulated import emulation
from server.providers.emulated.emulation import Faults
from server.providers.sessionboard.emulated.dataset import (
    STATUSES,
    SessionboardDataset,
    generate_dataset,
    parse_timestamp,
)
from server.providers.sessionboard.emulated.emulator import SessionboardEmulator, create_emulator
from tests.loop_lag import HeldSleeps

TOKEN = "sb-test-token"
ORG = 4242
HEADERS = {"x-access-token": TOKEN}
BASE = "http://sessionboard.test"
CONTACTS = f"/v1/organization/{ORG}/contacts"


@pytest.fixture(scope="module")
def dataset() -> SessionboardDataset:
    return generate_dataset(seed=1, contacts=300)


@pytest.fixture
def emulator(dataset: SessionboardDataset) -> SessionboardEmulator:
    return create_emulator(dataset, token=TOKEN, organization_id=ORG)


def connect(
    emulator: SessionboardEmulator, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=emulator.app)
    return httpx.AsyncClient(
        transport=transport, base_url=BASE, headers=HEADERS if headers is None else headers
    )


@pytest.fixture
async def client(emulator: SessionboardEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with connect(emulator) as http:
        yield http


def all_sessions(dataset: SessionboardDataset) -> list[dict]:
    return [s for event in dataset.events for s in dataset.sessions_by_event[event["id"]]]


def sessions_path(event_id: int) -> str:
    return f"/v1/event/{event_id}/sessions"


async def page_through(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    envelope: str,
    page_size: int,
    body: dict | None = None,
) -> tuple[list[dict], list[dict]]:
    """Follow `page` until `totalPages`; return the rows and every pagination block."""
    rows: list[dict] = []
    blocks: list[dict] = []
    page = 1
    while True:
        params = {"page": page, "pageSize": page_size}
        response = await client.request(method, path, params=params, json=body)
        assert response.status_code == 200, response.text
        payload = response.json()
        assert set(payload) == {envelope, "pagination"}
        rows.extend(payload[envelope])
        blocks.append(payload["pagination"])
        if page >= payload["pagination"]["totalPages"]:
            return rows, blocks
        page += 1


def assert_error(response: httpx.Response, status: int, reason: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"} and body["error"] == reason and body["message"]
    return body


# ---------------------------------------------------------------- auth


async def test_missing_or_wrong_token_is_unauthorized_in_the_error_envelope(
    emulator: SessionboardEmulator,
) -> None:
    async with connect(emulator, headers={}) as bare:
        missing = await bare.get("/v1/events")
        wrong = await bare.get("/v1/events", headers={"x-access-token": TOKEN + "x"})
        bearer = await bare.get("/v1/events", headers={"Authorization": f"Bearer {TOKEN}"})
        right = await bare.get("/v1/events", headers=HEADERS)
    for response in (missing, wrong, bearer):
        assert_error(response, 401, "Unauthorized")
    assert right.status_code == 200


async def test_a_token_without_a_scope_is_forbidden_on_that_scopes_endpoints_only(
    dataset: SessionboardDataset,
) -> None:
    emulator = create_emulator(
        dataset, token=TOKEN, organization_id=ORG, scopes=["read:events", "read:contacts"]
    )
    event = dataset.events[0]["id"]
    contact = dataset.contacts[0]["id"]
    async with connect(emulator) as http:
        assert (await http.get("/v1/events")).status_code == 200
        assert (await http.post(CONTACTS)).status_code == 200
        forbidden = [
            await http.post(sessions_path(event)),
            await http.get(f"{sessions_path(event)}/1"),
            await http.get(f"/v1/event/{event}/contacts/{contact}/sessions"),
        ]
    for response in forbidden:
        body = assert_error(response, 403, "Forbidden")
        assert body["message"] == "The token lacks the read:sessions scope"
    nothing = create_emulator(dataset, token=TOKEN, organization_id=ORG, scopes=[])
    async with connect(nothing) as http:
        body = assert_error(await http.post(CONTACTS), 403, "Forbidden")
        assert body["message"] == "The token lacks the read:contacts scope"
        assert_error(await http.get("/v1/events"), 403, "Forbidden")


def test_unknown_scopes_envelopes_or_rate_limits_are_configuration_errors(
    dataset: SessionboardDataset,
) -> None:
    with pytest.raises(ValueError):
        create_emulator(dataset, token=TOKEN, organization_id=ORG, scopes=["write:events"])
    with pytest.raises(ValueError):
        create_emulator(dataset, token=TOKEN, organization_id=ORG, envelope="items")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        create_emulator(dataset, token=TOKEN, organization_id=ORG, envelopes={"nope": "data"})
    with pytest.raises(ValueError):
        create_emulator(dataset, token=TOKEN, organization_id=ORG, rate_limit=(0, 10))


# ---------------------------------------------------------------- paging and envelopes


async def test_every_list_pages_to_the_end_in_its_default_envelope(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    events, blocks = await page_through(client, "GET", "/v1/events", "results", 2)
    assert events == list(dataset.events)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert blocks[-1]["totalResults"] == len(dataset.events)
    for event in dataset.events:
        expected = list(dataset.sessions_by_event[event["id"]])
        rows, blocks = await page_through(client, "POST", sessions_path(event["id"]), "data", 100)
        assert rows == expected and [s["id"] for s in rows] == sorted(s["id"] for s in rows)
        assert len(blocks) == (len(expected) + 99) // 100
    contacts, blocks = await page_through(client, "POST", CONTACTS, "data", 100)
    assert contacts == list(dataset.contacts)
    assert blocks == [
        {"currentPage": page, "pageSize": 100, "totalPages": 3, "totalResults": 300}
        for page in (1, 2, 3)
    ]
    pairs = Counter(
        (event_id, contact["id"])
        for contact in dataset.contacts
        for event_id, _ in dataset.sessions_of(contact["id"])
    )
    (event_id, busy), count = pairs.most_common(1)[0]
    path = f"/v1/event/{event_id}/contacts/{busy}/sessions"
    rows, blocks = await page_through(client, "GET", path, "results", 1)
    assert rows == [s for e, s in dataset.sessions_of(busy) if e == event_id]
    assert len(rows) == count >= 2 and len(blocks) == count


async def test_envelopes_can_be_switched_for_all_or_per_endpoint(
    dataset: SessionboardDataset,
) -> None:
    contact = next(c["id"] for c in dataset.contacts if dataset.sessions_of(c["id"]))
    event = dataset.sessions_of(contact)[0][0]
    mine = f"/v1/event/{event}/contacts/{contact}/sessions"
    lists = [
        ("GET", "/v1/events"),
        ("POST", sessions_path(event)),
        ("POST", CONTACTS),
        ("GET", mine),
    ]
    for envelope in ("data", "results"):
        everywhere = create_emulator(dataset, token=TOKEN, organization_id=ORG, envelope=envelope)
        async with connect(everywhere) as http:
            for method, path in lists:
                rows, _ = await page_through(http, method, path, envelope, 100)
                assert rows, path
    mixed = create_emulator(
        dataset,
        token=TOKEN,
        organization_id=ORG,
        envelope="results",
        envelopes={"events.list": "data", "contact.sessions": "data"},
    )
    async with connect(mixed) as http:
        events, _ = await page_through(http, "GET", "/v1/events", "data", 3)
        assert events == list(dataset.events)
        contacts, _ = await page_through(http, "POST", CONTACTS, "results", 50)
        assert contacts == list(dataset.contacts)
        sessions, _ = await page_through(http, "GET", mine, "data", 1)
        assert sessions == [s for e, s in dataset.sessions_of(contact) if e == event]
    overridden = create_emulator(
        dataset, token=TOKEN, organization_id=ORG, envelopes={"sessions.search": "results"}
    )
    async with connect(overridden) as http:
        assert (await page_through(http, "POST", sessions_path(event), "results", 100))[0]
        assert (await page_through(http, "GET", "/v1/events", "results", 100))[0]


async def test_page_defaults_and_a_page_past_the_end_is_empty_with_true_pagination(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    first = (await client.post(CONTACTS)).json()
    assert first["data"] == list(dataset.contacts[:25])
    assert first["pagination"] == {
        "currentPage": 1,
        "pageSize": 25,
        "totalPages": 12,
        "totalResults": 300,
    }
    beyond = (await client.post(CONTACTS, params={"page": 999, "pageSize": 100})).json()
    assert beyond == {
        "data": [],
        "pagination": {"currentPage": 999, "pageSize": 100, "totalPages": 3, "totalResults": 300},
    }
    idle = next(c for c in dataset.contacts if not dataset.sessions_of(c["id"]))
    path = f"/v1/event/{dataset.events[0]['id']}/contacts/{idle['id']}/sessions"
    none = (await client.get(path)).json()
    assert none == {
        "results": [],
        "pagination": {"currentPage": 1, "pageSize": 25, "totalPages": 0, "totalResults": 0},
    }


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "1000"},
        {"page": "abc"},
        {"page": "-1"},
        {"page": "1.5"},
        {"page": ""},
        {"pageSize": "0"},
        {"pageSize": "101"},
        {"pageSize": "abc"},
        {"pageSize": "1000"},
    ],
)
async def test_page_and_page_size_outside_their_ranges_are_bad_requests(
    client: httpx.AsyncClient, dataset: SessionboardDataset, params: dict[str, str]
) -> None:
    event = dataset.events[0]["id"]
    assert_error(await client.get("/v1/events", params=params), 400, "Bad Request")
    assert_error(await client.post(sessions_path(event), params=params), 400, "Bad Request")
    assert_error(await client.post(CONTACTS, params=params), 400, "Bad Request")


async def test_page_bounds_themselves_are_accepted(client: httpx.AsyncClient) -> None:
    for params in ({"page": 1, "pageSize": 1}, {"page": 999, "pageSize": 100}):
        assert (await client.get("/v1/events", params=params)).status_code == 200


# ---------------------------------------------------------------- lookups and 404s


async def test_get_session_returns_the_bare_session_and_unknown_ids_are_not_found(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    first, second = dataset.events[0]["id"], dataset.events[1]["id"]
    session = dataset.sessions_by_event[first][3]
    found = await client.get(f"{sessions_path(first)}/{session['id']}")
    assert found.status_code == 200 and found.json() == session
    contact = dataset.contacts[0]["id"]
    missing = [
        await client.get(f"{sessions_path(second)}/{session['id']}"),  # another event's session
        await client.get(f"{sessions_path(first)}/1"),
        await client.get(f"{sessions_path(first)}/abc"),
        await client.get("/v1/event/1/sessions/1"),
        await client.post(sessions_path(1)),
        await client.post("/v1/event/abc/sessions"),
        await client.post("/v1/organization/4243/contacts"),
        await client.get(f"/v1/event/1/contacts/{contact}/sessions"),
        await client.get(f"/v1/event/{first}/contacts/1/sessions"),
        await client.get("/v1/nothing-here"),
        await client.get("/events"),
    ]
    for response in missing:
        assert_error(response, 404, "Not Found")


async def test_a_wrong_method_is_405_in_the_error_envelope(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/v1/events"), 405, "Method Not Allowed")
    assert_error(await client.get(CONTACTS), 405, "Method Not Allowed")


async def test_emulator_mounted_under_a_prefix_serves_the_same_api(
    emulator: SessionboardEmulator,
) -> None:
    outer = Starlette(routes=[Mount("/_emulators/sessionboard", app=emulator.app)])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=HEADERS) as http:
        response = await http.get("/_emulators/sessionboard/v1/events")
        missing = await http.get("/_emulators/sessionboard/v1/nothing")
    assert response.status_code == 200 and response.headers["RateLimit-Limit"] == "100"
    assert_error(missing, 404, "Not Found")
    assert emulator.requests["events.list"] == 1


# ---------------------------------------------------------------- search bodies


async def test_sessions_filter_by_status_and_updated_at_and_sort_descending(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    event = max(dataset.sessions_by_event, key=lambda e: len(dataset.sessions_by_event[e]))
    sessions = dataset.sessions_by_event[event]
    pivot = sorted(parse_timestamp(s["updated_at"]) for s in sessions)[len(sessions) // 2]
    body = {
        "filters": {
            "status": ["accepted", "pending"],
            "updatedAt": {"after": pivot.isoformat()},
        },
        "sort": {"order": "updatedAt", "sort": "desc"},
        "expand": ["translated_fields"],
    }
    rows, _ = await page_through(client, "POST", sessions_path(event), "data", 7, body)
    expected = [
        s
        for s in sessions
        if s["status"] in ("accepted", "pending") and parse_timestamp(s["updated_at"]) > pivot
    ]
    assert rows and sorted(r["id"] for r in rows) == sorted(s["id"] for s in expected)
    stamps = [parse_timestamp(r["updated_at"]) for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    one = {"filters": {"status": "declined"}}
    declined, _ = await page_through(client, "POST", sessions_path(event), "data", 100, one)
    assert declined == [s for s in sessions if s["status"] == "declined"]


async def test_contacts_filter_by_created_at_window_and_sort_by_created_at(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    after, before = dataset.contacts[40]["created_at"], dataset.contacts[90]["created_at"]
    body = {"filters": {"createdAt": {"after": after, "before": before}}}
    rows, _ = await page_through(client, "POST", CONTACTS, "data", 20, body)
    assert rows == list(dataset.contacts[41:90])
    newest_first = {"sort": {"order": "createdAt", "sort": "desc"}}
    rows, _ = await page_through(client, "POST", CONTACTS, "data", 100, newest_first)
    assert rows == list(reversed(dataset.contacts))
    asc = {"sort": {"order": "updatedAt"}}
    rows, _ = await page_through(client, "POST", CONTACTS, "data", 100, asc)
    stamps = [parse_timestamp(r["updated_at"]) for r in rows]
    assert stamps == sorted(stamps) and len(rows) == 300


@pytest.mark.parametrize(
    "body",
    [
        [],
        "filters",
        {"filter": {}},
        {"filters": []},
        {"filters": {"createdAt": "2026-01-01"}},
        {"filters": {"createdAt": {"since": "2026-01-01T00:00:00Z"}}},
        {"filters": {"updatedAt": {"after": "yesterday"}}},
        {"filters": {"updatedAt": {"after": 1767225600}}},
        {"filters": {"status": "cancelled"}},
        {"filters": {"status": []}},
        {"sort": {"order": "title"}},
        {"sort": {"order": "createdAt", "sort": "up"}},
        {"sort": "createdAt"},
        {"expand": "translated_fields"},
    ],
)
async def test_malformed_search_bodies_are_bad_requests(
    client: httpx.AsyncClient, dataset: SessionboardDataset, body: object
) -> None:
    response = await client.post(sessions_path(dataset.events[0]["id"]), json=body)
    assert_error(response, 400, "Bad Request")


async def test_contacts_search_rejects_a_status_filter_and_invalid_json(
    client: httpx.AsyncClient,
) -> None:
    assert_error(
        await client.post(CONTACTS, json={"filters": {"status": "accepted"}}), 400, "Bad Request"
    )
    assert_error(await client.post(CONTACTS, content=b"{nope"), 400, "Bad Request")
    assert (await client.post(CONTACTS)).status_code == 200
    assert (await client.post(CONTACTS, content=b"null")).status_code == 200


# ---------------------------------------------------------------- the data set


def test_dataset_is_deterministic_for_a_seed_and_differs_for_another() -> None:
    first, again, other = generate_dataset(3, 80), generate_dataset(3, 80), generate_dataset(4, 80)
    assert json.dumps(first.__dict__) == json.dumps(again.__dict__)
    assert first == again
    assert first.contacts != other.contacts and first.sessions_by_event != other.sessions_by_event


def test_dataset_is_fast_to_build() -> None:
    started = time.perf_counter()
    generate_dataset(seed=9, contacts=300)
    # About 0.15 s; the bound only catches a build that has become many times slower.
    assert time.perf_counter() - started < 3.0


def test_contacts_have_scattered_ids_ordered_creation_and_tolerable_gaps(
    dataset: SessionboardDataset,
) -> None:
    contacts = dataset.contacts
    ids = [c["id"] for c in contacts]
    assert len(contacts) == 300 and len(set(ids)) == 300
    assert all(isinstance(i, int) and 10_000 <= i < 1_000_000 for i in ids)
    assert ids != sorted(ids)
    created = [parse_timestamp(c["created_at"]) for c in contacts]
    assert all(a < b for a, b in zip(created, created[1:], strict=False))
    assert all(
        parse_timestamp(c["updated_at"]) >= parse_timestamp(c["created_at"]) for c in contacts
    )
    emails = [c["email"] for c in contacts]
    assert len(set(emails)) == 300 and all("@" in e for e in emails)
    names = {c.get("first_name") for c in contacts} | {c.get("last_name") for c in contacts}
    assert {"Zoë", "José", "Łukasz", "Ångström", "Nguyễn", "Søren"} <= names
    assert any(name and any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in names)
    for part in ("first_name", "last_name"):
        gaps = [c for c in contacts if not c.get(part)]
        assert len(gaps) >= 3
        assert {"absent", "null", "empty"} == {
            "absent" if part not in c else "null" if c[part] is None else "empty" for c in gaps
        }
    assert all(c.get("first_name") or c.get("last_name") for c in contacts)
    assert set(contacts[0]) >= {"id", "email", "company_name", "title", "created_at", "updated_at"}


def test_events_and_sessions_meet_the_shape_the_adapter_relies_on(
    dataset: SessionboardDataset,
) -> None:
    assert 4 <= len(dataset.events) <= 6
    assert set(dataset.sessions_by_event) == {e["id"] for e in dataset.events}
    for event in dataset.events:
        assert set(event) == {"id", "name", "timezone", "created_at", "updated_at"}
    counts = [len(sessions) for sessions in dataset.sessions_by_event.values()]
    assert all(30 <= count <= 160 for count in counts) and max(counts) > 100
    sessions = all_sessions(dataset)
    assert len({s["id"] for s in sessions}) == len(sessions)
    assert {s["status"] for s in sessions} == set(STATUSES)
    contacts = {c["id"]: c for c in dataset.contacts}
    for session in sessions:
        assert 0 <= len(session["participants"]) <= 8 and 0 <= len(session["speakers"]) <= 3
        created, updated = (parse_timestamp(session[k]) for k in ("created_at", "updated_at"))
        assert updated >= created
        assert parse_timestamp(session["ends_at"]) > parse_timestamp(session["starts_at"])
        for person in session["participants"]:
            assert set(person["participant_role"]) == {"slug", "name"}
        for person in session["participants"] + session["speakers"]:
            contact = contacts[person["id"]]
            assert person["email"] == contact["email"]
            assert person.get("first_name") == contact.get("first_name")
        assert all("participant_role" not in speaker for speaker in session["speakers"])
    idle = [c for c in dataset.contacts if not dataset.sessions_of(c["id"])]
    assert len(idle) >= 30
    both = [
        (s["id"], person["id"])
        for s in sessions
        for person in s["speakers"]
        if person["id"] in {p["id"] for p in s["participants"]}
    ]
    assert len(both) >= 3


def test_timestamps_are_utc_with_and_without_milliseconds(dataset: SessionboardDataset) -> None:
    stamps = [c[k] for c in dataset.contacts for k in ("created_at", "updated_at")]
    stamps += [s[k] for s in all_sessions(dataset) for k in ("created_at", "updated_at")]
    assert all(stamp.endswith("Z") for stamp in stamps)
    with_ms = [stamp for stamp in stamps if len(stamp) == 24]
    whole = [stamp for stamp in stamps if len(stamp) == 20]
    assert len(with_ms) + len(whole) == len(stamps) and len(with_ms) > 50 and len(whole) > 50
    assert all(datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ") for s in with_ms)
    assert all(datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ") for s in whole)


def test_sessions_of_lists_each_session_a_contact_is_in_once(dataset: SessionboardDataset) -> None:
    both = next(
        (e["id"], s, p["id"])
        for e in dataset.events
        for s in dataset.sessions_by_event[e["id"]]
        for p in s["speakers"]
        if p["id"] in {q["id"] for q in s["participants"]}
    )
    event, session, contact = both
    mine = dataset.sessions_of(contact)
    assert [s["id"] for _, s in mine].count(session["id"]) == 1 and (event, session) in mine
    for event_id, found in mine:
        people = found["participants"] + found["speakers"]
        assert contact in {p["id"] for p in people}
        assert found in dataset.sessions_by_event[event_id]
    assert dataset.sessions_of(-1) == []


# ---------------------------------------------------------------- rate limit


async def test_rate_limit_counts_down_refuses_past_the_limit_per_category_and_recovers(
    dataset: SessionboardDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = create_emulator(dataset, token=TOKEN, organization_id=ORG, rate_limit=(5, 2))
    now = [1_000.0]  # the window's clock, moved by hand (the kit's `Emulator(clock=...)`)
    monkeypatch.setattr(emulator, "_clock", lambda: now[0])
    event = dataset.events[0]["id"]
    contact = dataset.contacts[0]["id"]
    async with connect(emulator) as http:
        answers = [await http.get("/v1/events") for _ in range(5)]
        assert [r.status_code for r in answers] == [200] * 5
        assert [r.headers["RateLimit-Remaining"] for r in answers] == ["4", "3", "2", "1", "0"]
        assert all(r.headers["RateLimit-Limit"] == "5" for r in answers)
        assert all(1 <= int(r.headers["RateLimit-Reset"]) <= 2 for r in answers)
        refused = await http.get("/v1/events")
        assert_error(refused, 429, "Too Many Requests")
        assert 1 <= int(refused.headers["Retry-After"]) <= 2
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert refused.headers["RateLimit-Limit"] == "5"
        assert emulator.into_full_window == 1
        # Sessions and contacts have budgets of their own; contact.sessions is a sessions call.
        assert (await http.post(sessions_path(event))).status_code == 200
        other = await http.get(f"/v1/event/{event}/contacts/{contact}/sessions")
        assert other.status_code == 200 and other.headers["RateLimit-Remaining"] == "3"
        assert (await http.post(CONTACTS)).headers["RateLimit-Remaining"] == "4"
        assert (await http.get("/v1/events")).status_code == 429
        assert emulator.into_full_window == 2
        now[0] += 1.99  # the window is not over yet
        assert (await http.get("/v1/events")).status_code == 429
        assert emulator.into_full_window == 3
        now[0] += 0.01  # now it is: a new window, with one request taken
        again = await http.get("/v1/events")
        assert again.status_code == 200 and again.headers["RateLimit-Remaining"] == "4"
    assert emulator.requests["events.list"] == 9


async def test_default_rate_limit_is_100_per_15_minutes_and_none_switches_it_off(
    client: httpx.AsyncClient, dataset: SessionboardDataset
) -> None:
    response = await client.get("/v1/events")
    assert response.headers["RateLimit-Limit"] == "100"
    assert response.headers["RateLimit-Remaining"] == "99"
    assert 890 <= int(response.headers["RateLimit-Reset"]) <= 900
    unlimited = create_emulator(dataset, token=TOKEN, organization_id=ORG, rate_limit=None)
    async with connect(unlimited) as http:
        for _ in range(120):
            response = await http.get("/v1/events", params={"pageSize": 1})
            assert response.status_code == 200
    assert "RateLimit-Limit" not in response.headers


async def test_errors_after_authentication_still_carry_rate_limit_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/organization/1/contacts")
    assert response.status_code == 404 and response.headers["RateLimit-Remaining"] == "99"


# ---------------------------------------------------------------- faults and counting


async def test_injected_500_and_429_with_retry_after_use_the_error_envelope(
    client: httpx.AsyncClient, emulator: SessionboardEmulator
) -> None:
    emulator.faults.status = 500
    assert_error(await client.get("/v1/events"), 500, "Internal Server Error")
    emulator.faults.status, emulator.faults.retry_after = 429, 7
    throttled = await client.post(CONTACTS)
    assert_error(throttled, 429, "Too Many Requests")
    assert throttled.headers["Retry-After"] == "7"
    emulator.faults.status, emulator.faults.fail_next = 500, 2
    statuses = [(await client.get("/v1/events")).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


async def test_malformed_json_fault_answers_200_with_an_unparseable_body(
    client: httpx.AsyncClient, emulator: SessionboardEmulator
) -> None:
    emulator.faults.malformed_json = True
    response = await client.get("/v1/events")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_latency_fault_delays_the_answer(
    dataset: SessionboardDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = HeldSleeps(monkeypatch, emulation)  # the emulator's sleeps, held: no clock
    slow = create_emulator(
        dataset, token=TOKEN, organization_id=ORG, faults=Faults(latency_seconds=0.2)
    )
    async with connect(slow) as http:
        answer = asyncio.create_task(http.get("/v1/events"))
        await sleeps.asked_or_done(answer)
        # Taken, and asleep for the fault's latency: unanswered until the sleep ends.
        assert sleeps.asked == [0.2]
        assert not answer.done() and slow.served == []
        sleeps.release()
        assert (await answer).status_code == 200
        slow.faults.latency_seconds = 0.0
        assert (await http.get("/v1/events")).status_code == 200
        assert sleeps.asked == [0.2]  # without latency, no sleep


async def test_requests_are_counted_per_endpoint_name_including_failures(
    client: httpx.AsyncClient, emulator: SessionboardEmulator, dataset: SessionboardDataset
) -> None:
    event = dataset.events[0]["id"]
    session = dataset.sessions_by_event[event][0]["id"]
    contact = dataset.contacts[0]["id"]
    await client.get("/v1/events")
    await client.get("/v1/events", headers={"x-access-token": "wrong"})
    await client.post(sessions_path(event))
    await client.get(f"{sessions_path(event)}/{session}")
    await client.get(f"{sessions_path(event)}/1")
    await client.post(CONTACTS)
    await client.get(f"/v1/event/{event}/contacts/{contact}/sessions")
    await client.get("/v1/unknown")
    assert emulator.requests == {
        "events.list": 2,
        "sessions.search": 1,
        "sessions.get": 2,
        "contacts.search": 1,
        "contact.sessions": 1,
    }
    assert emulator.total_requests == 7
    emulator.reset_counts()
    assert emulator.total_requests == 0
