"""Behaviour of the Sessions emulator and its generated data, checked over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from server.providers.emulated import emulation
from server.providers.emulated.emulation import Faults
from server.providers.sessions.emulated.dataset import (
    ANCHOR,
    SessionsDataset,
    generate_dataset,
    parse_timestamp,
)
from server.providers.sessions.emulated.emulator import SessionsEmulator, create_emulator
from tests.loop_lag import HeldSleeps

KEY = "sessions-test-key"
HEADERS = {"x-api-key": KEY}
BASE = "http://sessions.test"
LISTS = ("/api/sessions", "/api/bookings", "/api/events")
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
THROTTLED = {"statusCode": 429, "message": "ThrottlerException: Too Many Requests"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Clock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def dataset() -> SessionsDataset:
    return generate_dataset(seed=1, size=60)


@pytest.fixture(scope="module")
def big() -> SessionsDataset:
    """Big enough for every list to run over more than one page."""
    return generate_dataset(seed=2, size=400)


@pytest.fixture
def emulator(dataset: SessionsDataset) -> SessionsEmulator:
    return create_emulator(dataset, api_key=KEY, rate_limit=None)


def connect(emulator: SessionsEmulator, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator.app),
        base_url=BASE,
        headers=HEADERS if headers is None else headers,
    )


@pytest.fixture
async def client(emulator: SessionsEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with connect(emulator) as http:
        yield http


async def page_through(
    client: httpx.AsyncClient, path: str, envelope: str | None = None
) -> tuple[list[dict], list[int]]:
    """Follow `page` until a page shorter than 20; the rows and each page's length."""
    rows: list[dict] = []
    sizes: list[int] = []
    page = 1
    while True:
        response = await client.get(path, params={"page": page})
        assert response.status_code == 200, response.text
        body = response.json()
        if envelope is not None:
            assert set(body) == {envelope}
            body = body[envelope]
        assert isinstance(body, list)
        rows += body
        sizes.append(len(body))
        if len(body) < 20:
            return rows, sizes
        page += 1


def assert_error(response: httpx.Response, status: int, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"statusCode", "message"} and body["statusCode"] == status
    assert isinstance(body["message"], str) and body["message"]
    if message is not None:
        assert body["message"] == message


def person_of(entry: dict) -> dict:
    return entry["user"] or entry["guest"]


def others(dataset: SessionsDataset, session_id: str) -> list[dict]:
    return [person_of(e) for e in dataset.participants[session_id] if not e["isOwner"]]


def expected_lists(dataset: SessionsDataset) -> dict[str, list[dict]]:
    return {
        "/api/sessions": list(dataset.sessions),
        "/api/bookings": list(dataset.bookings),
        "/api/events": list(dataset.events),
    }


# ---------------------------------------------------------------- auth and configuration


async def test_a_missing_or_wrong_api_key_is_401_with_the_exact_body_and_no_budget_headers(
    emulator: SessionsEmulator,
) -> None:
    async with connect(emulator, headers={}) as bare:
        answers = [
            await bare.get("/api/sessions"),
            await bare.get("/api/sessions", headers={"x-api-key": KEY + "x"}),
            await bare.get("/api/sessions", headers={"x-api-key": ""}),
            await bare.get("/api/bookings", headers={"Authorization": f"Bearer {KEY}"}),
        ]
        right = await bare.get("/api/sessions", headers=HEADERS)
    for response in answers:
        assert response.status_code == 401
        assert response.json() == {"statusCode": 401, "message": "Unauthorized"}
    assert right.status_code == 200


async def test_a_401_never_spends_the_keys_budget(dataset: SessionsDataset) -> None:
    limited = create_emulator(dataset, api_key=KEY, rate_limit=(2, 60), clock=Clock())
    async with connect(limited) as http:
        for _ in range(5):
            wrong = await http.get("/api/sessions", headers={"x-api-key": "nope"})
            assert wrong.status_code == 401 and "X-RateLimit-Limit" not in wrong.headers
        assert (await http.get("/api/sessions")).headers["X-RateLimit-Remaining"] == "1"
    assert limited.into_full_window == 0


def test_bad_configuration_is_refused(dataset: SessionsDataset) -> None:
    with pytest.raises(ValueError):
        create_emulator(dataset, api_key="")
    with pytest.raises(ValueError):
        create_emulator(dataset, api_key=KEY, rate_limit=(0, 60))
    with pytest.raises(ValueError):
        create_emulator(dataset, api_key=KEY, rate_limit=(10, 0))
    with pytest.raises(ValueError):
        create_emulator(dataset, api_key=KEY, envelope="results")  # type: ignore[arg-type]


def test_the_emulator_exposes_its_dataset_app_counters_and_faults(
    emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    assert emulator.dataset is dataset
    assert emulator.requests == {} and emulator.into_full_window == 0
    assert isinstance(emulator.faults, Faults) and callable(emulator.app)


# ---------------------------------------------------------------- lists and paging


async def test_every_list_pages_to_the_end_20_at_a_time_in_creation_order(
    big: SessionsDataset,
) -> None:
    emulator = create_emulator(big, api_key=KEY, rate_limit=None)
    async with connect(emulator) as http:
        for path, expected in expected_lists(big).items():
            rows, sizes = await page_through(http, path)
            assert rows == expected and len(rows) > 20
            assert all(size == 20 for size in sizes[:-1]) and sizes[-1] < 20
            past = (await http.get(path, params={"page": len(sizes) + 3})).json()
            assert past == []
    sessions = list(big.sessions)
    assert sessions == sorted(sessions, key=lambda s: (s["createdAt"], s["id"]))
    bookings = list(big.bookings)
    assert bookings == sorted(bookings, key=lambda b: (b["createdAt"], b["id"]))


async def test_the_data_envelope_wraps_every_list_and_the_participants(
    dataset: SessionsDataset,
) -> None:
    wrapped = create_emulator(dataset, api_key=KEY, rate_limit=None, envelope="data")
    session = dataset.sessions[0]
    async with connect(wrapped) as http:
        for path, expected in expected_lists(dataset).items():
            rows, _ = await page_through(http, path, envelope="data")
            assert rows == expected
        assert (await http.get("/api/sessions", params={"page": 9})).json() == {"data": []}
        listed = (await http.get(f"/api/sessions/{session['id']}/participants")).json()
        assert listed == {"data": list(dataset.participants[session["id"]])}
        assert (await http.get(f"/api/sessions/{session['id']}")).json() == session


async def test_lists_are_bare_arrays_by_default_and_page_1_is_the_default(
    client: httpx.AsyncClient, dataset: SessionsDataset
) -> None:
    first = (await client.get("/api/sessions")).json()
    assert first == (await client.get("/api/sessions", params={"page": 1})).json()
    assert first == list(dataset.sessions[:20])
    second = (await client.get("/api/sessions", params={"page": 2, "pageSize": 100})).json()
    assert second == list(dataset.sessions[20:40]) and 0 < len(second) < 20


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "", "+1", " 1", "١", "0x1"])
async def test_a_page_that_is_not_an_integer_of_at_least_1_is_a_bad_request(
    client: httpx.AsyncClient, page: str
) -> None:
    for path in LISTS:
        assert_error(await client.get(path, params={"page": page}), 400)


async def test_a_huge_page_is_just_past_the_end(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/bookings", params={"page": "9" * 40})
    assert response.status_code == 200 and response.json() == []


# ---------------------------------------------------------------- one session, participants


async def test_a_session_and_its_participants_are_served_and_unknown_ones_are_404(
    client: httpx.AsyncClient, dataset: SessionsDataset
) -> None:
    for session in (dataset.sessions[0], dataset.sessions[-1]):
        assert (await client.get(f"/api/sessions/{session['id']}")).json() == session
        listed = (await client.get(f"/api/sessions/{session['id']}/participants")).json()
        assert listed == list(dataset.participants[session["id"]])
        assert listed[0]["isOwner"] is True
    unknown = "00000000-0000-4000-8000-000000000000"
    assert_error(await client.get(f"/api/sessions/{unknown}"), 404)
    assert_error(await client.get(f"/api/sessions/{unknown}/participants"), 404)
    assert_error(await client.get("/api/rooms"), 404)
    assert_error(await client.get("/api/sessions/x/takeaways"), 404)


async def test_a_wrong_method_is_405_in_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/sessions", json={}), 405)
    assert_error(await client.delete("/api/bookings"), 405)


async def test_the_participants_list_is_never_paged(emulator: SessionsEmulator) -> None:
    crowd = [(f"person{n}@example.com", f"Person{n}", "Crowd") for n in range(30)]
    session = emulator.add_session("Town hall", crowd)
    async with connect(emulator) as http:
        path = f"/api/sessions/{session['id']}/participants"
        listed = (await http.get(path)).json()
        assert (await http.get(path, params={"page": 2})).json() == listed
    assert len(listed) == 31 and listed[0]["isOwner"]
    assert [person_of(e)["email"] for e in listed[1:]] == [row[0] for row in crowd]


# ---------------------------------------------------------------- rate limit


async def test_the_rate_limit_counts_down_refuses_the_4th_and_recovers_after_the_window(
    dataset: SessionsDataset,
) -> None:
    clock = Clock()
    limited = create_emulator(dataset, api_key=KEY, rate_limit=(3, 1), clock=clock)
    async with connect(limited) as http:
        answers = [await http.get(path) for path in LISTS]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
        assert all(r.headers["X-RateLimit-Limit"] == "3" for r in answers)
        assert all(r.headers["X-RateLimit-Reset"] == "1" for r in answers)
        clock.now += 0.5
        refused = await http.get("/api/sessions")
        assert refused.status_code == 429 and refused.json() == THROTTLED
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert limited.into_full_window == 1
        clock.now += 0.5
        again = await http.get("/api/sessions")
        assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == "2"
    assert limited.into_full_window == 1
    assert limited.requests == {"sessions.list": 3, "bookings.list": 1, "events.list": 1}


async def test_errors_after_authentication_carry_the_rate_limit_headers(
    dataset: SessionsDataset,
) -> None:
    limited = create_emulator(dataset, api_key=KEY, clock=Clock())
    async with connect(limited) as http:
        missing = await http.get("/api/sessions/nope")
        bad = await http.get("/api/sessions", params={"page": 0})
    assert missing.status_code == 404 and missing.headers["X-RateLimit-Remaining"] == "9"
    assert bad.status_code == 400 and bad.headers["X-RateLimit-Remaining"] == "8"


async def test_the_default_is_10_requests_a_minute_and_none_turns_it_off(
    dataset: SessionsDataset,
) -> None:
    clock = Clock()
    limited = create_emulator(dataset, api_key=KEY, clock=clock)
    async with connect(limited) as http:
        answers = [await http.get("/api/sessions") for _ in range(10)]
        clock.now += 15.2
        refused = await http.get("/api/sessions")
    assert [r.status_code for r in answers] == [200] * 10
    assert answers[0].headers["X-RateLimit-Limit"] == "10"
    assert answers[0].headers["X-RateLimit-Reset"] == "60"
    assert answers[-1].headers["X-RateLimit-Remaining"] == "0"
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "45"
    assert refused.json() == THROTTLED
    unlimited = create_emulator(dataset, api_key=KEY, rate_limit=None)
    async with connect(unlimited) as http:
        answers = [await http.get("/api/events") for _ in range(30)]
    assert all(r.status_code == 200 and "X-RateLimit-Limit" not in r.headers for r in answers)
    assert unlimited.into_full_window == 0


async def test_rate_limit_headers_can_be_left_off_while_429_keeps_retry_after(
    dataset: SessionsDataset,
) -> None:
    quiet = create_emulator(
        dataset, api_key=KEY, rate_limit=(2, 60), rate_limit_headers=False, clock=Clock()
    )
    async with connect(quiet) as http:
        answers = [
            await http.get("/api/sessions"),
            await http.get("/api/sessions/nope"),
            await http.get("/api/sessions"),
        ]
    assert [r.status_code for r in answers] == [200, 404, 429]
    for response in answers:
        assert not [name for name in response.headers if name.lower().startswith("x-ratelimit")]
    assert answers[-1].headers["Retry-After"] == "60" and answers[-1].json() == THROTTLED
    assert quiet.into_full_window == 1


async def test_a_client_pacing_itself_never_arrives_in_a_full_window(
    dataset: SessionsDataset,
) -> None:
    clock = Clock()
    limited = create_emulator(dataset, api_key=KEY, rate_limit=(3, 10), clock=clock)
    async with connect(limited) as http:
        for _ in range(4):
            for _ in range(3):
                assert (await http.get("/api/sessions")).status_code == 200
            clock.now += 10
    assert limited.into_full_window == 0 and limited.requests["sessions.list"] == 12


async def test_every_request_arriving_in_a_full_window_is_counted_once_whatever_answers_it(
    dataset: SessionsDataset,
) -> None:
    clock = Clock()
    limited = create_emulator(dataset, api_key=KEY, rate_limit=(1, 60), clock=clock)
    async with connect(limited) as http:
        assert (await http.get("/api/sessions")).status_code == 200
        assert limited.into_full_window == 0
        assert (await http.get("/api/bookings")).status_code == 429  # the kit's own refusal
        assert limited.into_full_window == 1
        limited.faults.status, limited.faults.fail_next = 500, 1
        assert (await http.get("/api/sessions")).status_code == 500  # a fault answers first
        assert limited.into_full_window == 2
        assert (await http.get("/api/unknown")).status_code == 404  # no endpoint at all
        assert limited.into_full_window == 3
        other = await http.get("/api/sessions", headers={"x-api-key": "other"})
        assert other.status_code == 401 and limited.into_full_window == 3  # not this key
        clock.now += 60
        assert (await http.get("/api/sessions")).status_code == 200
    assert limited.into_full_window == 3
    limited.reset_counts()
    assert limited.into_full_window == 0 and limited.total_requests == 0


# ---------------------------------------------------------------- faults and counting


async def test_injected_500_and_429_answer_in_the_error_shape_and_fail_next_clears(
    client: httpx.AsyncClient, emulator: SessionsEmulator
) -> None:
    emulator.faults.status = 500
    assert_error(await client.get("/api/sessions"), 500)
    emulator.faults.status, emulator.faults.retry_after = 429, 7
    throttled = await client.get("/api/bookings")
    assert throttled.status_code == 429 and throttled.json() == THROTTLED
    assert throttled.headers["Retry-After"] == "7"
    emulator.faults.status, emulator.faults.fail_next = 500, 2
    statuses = [(await client.get("/api/events")).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


async def test_faults_can_be_limited_to_named_endpoints(
    client: httpx.AsyncClient, emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    emulator.faults.status = 500
    emulator.faults.endpoints = frozenset({"participants.list"})
    session = dataset.sessions[0]["id"]
    assert (await client.get("/api/sessions")).status_code == 200
    assert_error(await client.get(f"/api/sessions/{session}/participants"), 500)


async def test_malformed_json_and_a_hanging_request(
    client: httpx.AsyncClient, emulator: SessionsEmulator
) -> None:
    emulator.faults.malformed_json = True
    response = await client.get("/api/sessions")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    emulator.faults.malformed_json, emulator.faults.hang = False, True
    emulator.reset_counts()
    hanging = asyncio.create_task(client.get("/api/sessions"))
    # Counted in turns of the event loop, not seconds: in process an answer takes one turn.
    for _ in range(50):
        await asyncio.sleep(0)
    assert emulator.requests == {"sessions.list": 1}  # taken…
    assert not hanging.done() and emulator.served == []  # …and never answered
    hanging.cancel()
    with pytest.raises(asyncio.CancelledError):
        await hanging


async def test_latency_delays_the_answer(
    dataset: SessionsDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = HeldSleeps(monkeypatch, emulation)  # the emulator's sleeps, held: no clock
    slow = create_emulator(
        dataset, api_key=KEY, rate_limit=None, faults=Faults(latency_seconds=0.15)
    )
    async with connect(slow) as http:
        answer = asyncio.create_task(http.get("/api/events"))
        await sleeps.asked_or_done(answer)
        # Taken, and asleep for the fault's latency: unanswered until the sleep ends.
        assert sleeps.asked == [0.15]
        assert not answer.done() and slow.served == []
        sleeps.release()
        assert (await answer).status_code == 200


async def test_requests_are_counted_per_endpoint_name_including_failures(
    client: httpx.AsyncClient, emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    session = dataset.sessions[0]["id"]
    await client.get("/api/sessions")
    await client.get("/api/sessions", headers={"x-api-key": "wrong"})
    await client.get(f"/api/sessions/{session}")
    await client.get("/api/sessions/nope")
    await client.get(f"/api/sessions/{session}/participants")
    await client.get("/api/bookings", params={"page": 0})
    await client.get("/api/events")
    await client.get("/api/unknown")
    assert emulator.requests == {
        "sessions.list": 2,
        "sessions.get": 2,
        "participants.list": 1,
        "bookings.list": 1,
        "events.list": 1,
    }
    assert emulator.total_requests == 7


# ---------------------------------------------------------------- mutations


async def test_an_added_session_is_listed_last_with_its_owner_and_participants(
    emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    session = emulator.add_session(
        "Launch rehearsal",
        [("new.person@example.com", "New", "Person"), ("ava@example.com", "Ava", None, False)],
    )
    assert emulator.dataset is not dataset and session not in dataset.sessions
    latest = max(row["createdAt"] for row in (*dataset.sessions, *dataset.bookings))
    assert session["createdAt"] > latest and session["endedAt"] is None
    assert session["startAt"] > session["createdAt"] and session["booking"] is None
    async with connect(emulator) as http:
        rows, _ = await page_through(http, "/api/sessions")
        listed = (await http.get(f"/api/sessions/{session['id']}/participants")).json()
        assert (await http.get(f"/api/sessions/{session['id']}")).json() == session
    assert rows == [*dataset.sessions, session]
    assert listed[0]["isOwner"] and listed[0]["user"]["email"] in owner_emails(dataset)
    assert listed[1]["guest"]["email"] == "new.person@example.com" and listed[1]["user"] is None
    assert listed[2]["guest"] is None and listed[2]["user"]["email"] == "ava@example.com"
    assert (listed[2]["user"]["firstName"], listed[2]["user"]["lastName"]) == ("Ava", None)
    expected = {("new.person@example.com", session["id"], "confirmed")}
    expected.add(("ava@example.com", session["id"], "confirmed"))
    assert emulator.dataset.registrations() == dataset.registrations() | expected
    assert len(dataset.sessions) == len(generate_dataset(seed=1, size=60).sessions)  # untouched


async def test_a_session_added_without_participants_gets_three_known_people(
    emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    session = emulator.add_session()
    following = emulator.add_session()
    assert following["createdAt"] > session["createdAt"]
    people = others(emulator.dataset, session["id"])
    assert len(people) == 3
    assert {p["email"] for p in people} <= set(dataset.people())
    assert emulator.dataset.people() == dataset.people()
    twin = create_emulator(dataset, api_key=KEY)
    assert twin.add_session() == session and twin.add_session() == following


async def test_added_participants_and_bookings_show_up_and_cancelling_flips_one_in_place(
    emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    session = dataset.sessions[3]
    entry = emulator.add_participant(session["id"], "late.comer@example.com", "Late", "Comer")
    booking = emulator.add_booking(session["id"], "Booker.Only@Example.com", "Booker Only")
    async with connect(emulator) as http:
        listed = (await http.get(f"/api/sessions/{session['id']}/participants")).json()
        rows, _ = await page_through(http, "/api/bookings")
    assert listed == [*dataset.participants[session["id"]], entry]
    assert rows == [*dataset.bookings, booking]
    assert booking["createdAt"] > dataset.bookings[-1]["createdAt"]
    assert booking["sessionId"] == session["id"] and booking["cancelled"] is False
    assert booking["startAt"] == session["startAt"] and booking["endAt"] == session["plannedEnd"]
    assert booking["bookingPageId"] in dataset.booking_pages
    registrations = emulator.dataset.registrations()
    assert ("late.comer@example.com", session["id"], "confirmed") in registrations
    assert ("booker.only@example.com", session["id"], "confirmed") in registrations
    assert emulator.dataset.people()["booker.only@example.com"]["name"] == "Booker Only"

    cancelled = emulator.cancel_booking(booking["id"])
    assert cancelled == {**booking, "cancelled": True}
    async with connect(emulator) as http:
        rows, _ = await page_through(http, "/api/bookings")
    assert rows == [*dataset.bookings, cancelled]
    assert ("booker.only@example.com", session["id"], "cancelled") in (
        emulator.dataset.registrations()
    )
    cancelled_booking = emulator.add_booking(session["id"], "x@example.com", "X Y", cancelled=True)
    assert cancelled_booking["cancelled"] is True


def test_mutations_refuse_unknown_ids_and_people_already_in_the_session(
    emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    session = next(s for s in dataset.sessions if others(dataset, s["id"]))
    present = others(dataset, session["id"])[0]["email"]
    owner = dataset.participants[session["id"]][0]["user"]["email"]
    with pytest.raises(KeyError):
        emulator.add_participant("nope", "a@example.com", "A", None)
    with pytest.raises(KeyError):
        emulator.add_booking("nope", "a@example.com", "A B")
    with pytest.raises(KeyError):
        emulator.cancel_booking("nope")
    for email in (present, present.swapcase(), owner):
        with pytest.raises(ValueError):
            emulator.add_participant(session["id"], email, "Dup", "Licate")
    assert emulator.dataset is dataset


def test_a_user_added_again_keeps_the_user_id_they_have_elsewhere(
    emulator: SessionsEmulator, dataset: SessionsDataset
) -> None:
    known = next(e["user"] for es in dataset.participants.values() for e in es[1:] if e["user"])
    session = emulator.add_session("Follow-up", [])
    entry = emulator.add_participant(
        session["id"], known["email"].upper(), "Someone", "Else", as_guest=False
    )
    assert entry["user"]["id"] == known["id"] and entry["guest"] is None


# ---------------------------------------------------------------- the data set


def owner_emails(dataset: SessionsDataset) -> set[str]:
    return {owner["email"] for owner in dataset.owners}


def test_the_data_set_is_deterministic_and_depends_on_its_arguments() -> None:
    first, again = generate_dataset(3, 80), generate_dataset(3, 80)
    assert first == again
    dump = json.dumps([first.sessions, first.participants, first.bookings, first.events])
    assert dump == json.dumps([again.sessions, again.participants, again.bookings, again.events])
    assert generate_dataset(4, 80).sessions != first.sessions
    assert generate_dataset().now == ANCHOR == generate_dataset(1, 60).now
    later = generate_dataset(3, 80, now=ANCHOR + timedelta(days=10))
    assert [parse_timestamp(s["startAt"]) for s in later.sessions] == [
        parse_timestamp(s["startAt"]) + timedelta(days=10) for s in first.sessions
    ]
    with pytest.raises(ValueError):
        generate_dataset(1, 5)
    with pytest.raises(ValueError):
        generate_dataset(1, 60, now=datetime(2026, 1, 1))


def test_the_data_set_is_fast_to_build() -> None:
    started = time.perf_counter()
    generate_dataset(seed=9, size=1_000)
    # About 0.07 s; the bound only catches a build that has become many times slower.
    assert time.perf_counter() - started < 3.0


def test_sessions_are_spread_over_the_past_60_days_the_last_day_and_the_next_30(
    dataset: SessionsDataset,
) -> None:
    now, sessions = dataset.now, dataset.sessions
    assert len(sessions) >= 25 and len(sessions) > 20  # at least two pages
    assert len({s["id"] for s in sessions}) == len(sessions)
    created = [s["createdAt"] for s in sessions]
    assert created == sorted(created) and len(set(created)) == len(created)
    kinds: Counter[str] = Counter()
    for session in sessions:
        assert set(session) == {
            "id", "name", "description", "createdAt", "startAt", "plannedEnd", "endedAt",
            "timeZone", "booking", "event",
        }  # fmt: skip
        assert UUID.match(session["id"]) and session["name"] and session["timeZone"]
        stamps = [session[k] for k in ("createdAt", "startAt", "plannedEnd", "endedAt")]
        assert all(STAMP.match(stamp) for stamp in stamps if stamp is not None)
        starts, end = parse_timestamp(session["startAt"]), parse_timestamp(session["plannedEnd"])
        assert now - timedelta(days=60) <= starts <= now + timedelta(days=30)
        assert end > starts and parse_timestamp(session["createdAt"]) < min(starts, now)
        ended = session["endedAt"]
        if starts > now:
            kinds["upcoming"] += 1
            assert ended is None
        elif starts >= now - timedelta(hours=24):
            kinds["last day"] += 1
            kinds["running"] += ended is None
        else:
            kinds["past"] += 1
            assert ended is not None
        if ended is not None:
            assert starts < parse_timestamp(ended) <= now
    assert kinds["past"] >= 10 and kinds["upcoming"] >= 5
    assert kinds["last day"] >= 2 and kinds["running"] == 1


def test_each_session_lists_its_owner_first_then_up_to_8_guests_or_users(
    dataset: SessionsDataset,
) -> None:
    owners = owner_emails(dataset)
    assert 1 <= len(owners) <= 2
    assert set(dataset.participants) == {s["id"] for s in dataset.sessions}
    entry_ids = []
    kinds: Counter[str] = Counter()
    for session in dataset.sessions:
        entries = dataset.participants[session["id"]]
        owner, rest = entries[0], entries[1:]
        assert owner["isOwner"] is True and owner["guest"] is None
        assert owner["user"]["email"] in owners
        assert 0 <= len(rest) <= 8
        emails = [person_of(e)["email"].lower() for e in entries]
        assert len(set(emails)) == len(emails)
        for entry in rest:
            assert set(entry) == {"id", "isOwner", "user", "guest"} and entry["isOwner"] is False
            assert (entry["user"] is None) != (entry["guest"] is None)
            kinds["user" if entry["user"] else "guest"] += 1
            person = person_of(entry)
            assert set(person) == {"id", "email", "firstName", "lastName"}
            assert person["email"].lower() not in owners
        entry_ids += [e["id"] for e in entries]
    assert len(set(entry_ids)) == len(entry_ids)
    assert kinds["user"] >= 10 and kinds["guest"] >= 10


def test_people_recur_with_other_email_casing_names_in_one_field_and_both_kinds(
    dataset: SessionsDataset,
) -> None:
    spellings: dict[str, set[str]] = defaultdict(set)
    sessions_of: dict[str, set[str]] = defaultdict(set)
    kinds: dict[str, set[str]] = defaultdict(set)
    one_field = []
    for session_id in dataset.participants:
        for entry in dataset.participants[session_id][1:]:
            person = person_of(entry)
            email = person["email"].lower()
            spellings[email].add(person["email"])
            sessions_of[email].add(session_id)
            kinds[email].add("user" if entry["user"] else "guest")
            if not person["lastName"]:
                one_field.append(person)
    assert sum(len(found) >= 3 for found in sessions_of.values()) >= 5
    assert sum(len(found) > 1 for found in spellings.values()) >= 3
    assert sum(kind == {"user", "guest"} for kind in kinds.values()) >= 1
    assert len(one_field) >= 3 and {p["lastName"] for p in one_field} <= {None, ""}
    people = dataset.people()
    for person in one_field:
        assert person["firstName"] == people[person["email"].lower()]["name"]
        assert " " in person["firstName"]


def test_bookings_cover_a_third_of_the_sessions_with_cancellations_and_outsiders(
    dataset: SessionsDataset,
) -> None:
    sessions = {s["id"]: s for s in dataset.sessions}
    by_session: dict[str, list[dict]] = defaultdict(list)
    for booking in dataset.bookings:
        assert set(booking) == {
            "id", "name", "sessionId", "bookingPageId", "startAt", "endAt", "participantName",
            "participantEmail", "guests", "cancelled", "createdAt",
        }  # fmt: skip
        assert STAMP.match(booking["createdAt"]) and UUID.match(booking["id"])
        by_session[booking["sessionId"]].append(booking)
        session = sessions[booking["sessionId"]]
        assert booking["startAt"] == session["startAt"]
        assert booking["endAt"] == session["plannedEnd"]
        assert booking["createdAt"] >= session["createdAt"]
        assert booking["bookingPageId"] in dataset.booking_pages
        emails = {p["email"].lower() for p in others(dataset, session["id"])}
        assert {guest.lower() for guest in booking["guests"]} <= emails
    assert abs(len(by_session) - len(sessions) / 3) <= 2
    assert all(1 <= len(found) <= 3 for found in by_session.values())
    everyone = {p["email"].lower() for sid in sessions for p in others(dataset, sid)}
    inside = outside = nowhere = 0
    cancelled = Counter[bool]()
    for session_id, found in by_session.items():
        emails = {p["email"].lower() for p in others(dataset, session_id)}
        booked = [b["participantEmail"].lower() for b in found]
        assert len(set(booked)) == len(booked)  # one booking per person and session
        for booking, email in zip(found, booked, strict=True):
            assert email not in owner_emails(dataset)
            inside += email in emails
            outside += email not in emails
            nowhere += email not in everyone
            cancelled[email in emails] += booking["cancelled"]
    assert inside >= 2 and outside >= 2 and 1 <= nowhere <= 5
    assert cancelled[True] >= 1 and cancelled[False] >= 1
    assert any(b["guests"] for b in dataset.bookings)
    assert any(b["participantEmail"] != b["participantEmail"].lower() for b in dataset.bookings)


def test_a_sessions_booking_is_one_of_its_bookings(dataset: SessionsDataset) -> None:
    bookings = {b["id"]: b for b in dataset.bookings}
    with_booking = [s for s in dataset.sessions if s["booking"] is not None]
    assert with_booking
    for session in with_booking:
        booking = bookings[session["booking"]["id"]]
        assert booking["sessionId"] == session["id"]
        assert session["booking"] == {
            k: booking[k] for k in ("id", "name", "participantName", "participantEmail", "guests")
        }


def test_events_embed_their_session_and_the_session_names_its_event(
    dataset: SessionsDataset,
) -> None:
    assert dataset.events
    positions = [dataset.sessions.index(event["session"]) for event in dataset.events]
    assert positions == sorted(positions)
    for event in dataset.events:
        assert set(event) == {"id", "slug", "published", "session"}
        assert event["session"]["event"] == {"id": event["id"], "slug": event["slug"]}
        assert re.match(r"^[a-z0-9-]+$", event["slug"])
    assert {event["published"] for event in dataset.events} == {True, False}
    with_event = [s for s in dataset.sessions if s["event"] is not None]
    assert len(with_event) == len(dataset.events)


def test_people_are_every_distinct_email_with_one_consistent_name(
    dataset: SessionsDataset,
) -> None:
    people = dataset.people()
    assert len(people) == 60  # everyone the data set draws from shows up
    assert not owner_emails(dataset) & set(people)
    names: dict[str, set[str]] = defaultdict(set)
    for session_id in dataset.participants:
        for person in others(dataset, session_id):
            name = " ".join(p for p in (person["firstName"], person["lastName"]) if p)
            names[person["email"].lower()].add(name)
    for booking in dataset.bookings:
        names[booking["participantEmail"].lower()].add(booking["participantName"])
    assert set(names) == set(people)
    for email, person in people.items():
        assert names[email] == {person["name"]}
        assert person["name"] == f"{person['first_name']} {person['last_name']}"
        assert email == email.lower() and " " not in (person["first_name"] or "")


def test_registrations_follow_the_mapping_table(dataset: SessionsDataset) -> None:
    registrations = dataset.registrations()
    pairs = [(email, session) for email, session, _ in registrations]
    assert len(pairs) == len(set(pairs))
    status = {(email, session): state for email, session, state in registrations}
    participants = {
        (p["email"].lower(), sid) for sid in dataset.participants for p in others(dataset, sid)
    }
    booked = {(b["participantEmail"].lower(), b["sessionId"]): b for b in dataset.bookings}
    assert set(status) == participants | set(booked)
    for pair, state in status.items():
        booking = booked.get(pair)
        assert state == ("cancelled" if booking and booking["cancelled"] else "confirmed")
    assert {state for state in status.values()} == {"confirmed", "cancelled"}
    assert any(status[pair] == "cancelled" for pair in participants)
    assert not any(email in owner_emails(dataset) for email, _ in status)


def test_the_shape_for_seed_1_and_size_60(dataset: SessionsDataset) -> None:
    entries = [e for es in dataset.participants.values() for e in es if not e["isOwner"]]
    participant_emails = {person_of(e)["email"].lower() for e in entries}
    only_booked = {b["participantEmail"].lower() for b in dataset.bookings} - participant_emails
    shape: dict[str, Any] = {
        "sessions": len(dataset.sessions),
        "participants": len(entries),
        "people": len(dataset.people()),
        "bookings": len(dataset.bookings),
        "cancelled": sum(b["cancelled"] for b in dataset.bookings),
        "only booked": len(only_booked),
    }
    assert shape["sessions"] == 25 and shape["people"] == 60
    assert 60 <= shape["participants"] <= 160
    assert 8 <= shape["bookings"] <= 24 and 2 <= shape["cancelled"] < shape["bookings"]
    assert shape["only booked"] == 3
