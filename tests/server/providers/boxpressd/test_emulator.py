"""Behaviour of the Boxpressd emulator and its generated data, checked over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from server.providers.boxpressd.emulated.dataset import (
    ANCHOR,
    SPAN,
    BoxpressdDataset,
    catalogue_for,
    generate_dataset,
    iso,
    parse_timestamp,
)
from server.providers.boxpressd.emulated.emulator import BoxpressdEmulator, create_emulator
from server.providers.emulated import emulation
from server.providers.emulated.emulation import Faults
from tests.loop_lag import HeldSleeps

KEY = "bxp-test-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}
BASE = "http://boxpressd.test"
SESSIONS = "/venues/stogies-chapin/sessions"
OPTIONAL = ("rating", "note", "venue")
FEW = ("startedAt", "endedAt", "durationSeconds", "cigar")
SESSION_KEYS = {"id", "createdAt", "user", *OPTIONAL, *FEW}


@pytest.fixture(scope="module")
def dataset() -> BoxpressdDataset:
    return generate_dataset(seed=1)


@pytest.fixture
def emulator(dataset: BoxpressdDataset) -> BoxpressdEmulator:
    return create_emulator(dataset, api_key=KEY)


def connect(
    emulator: BoxpressdEmulator, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=emulator.app)
    return httpx.AsyncClient(
        transport=transport, base_url=BASE, headers=HEADERS if headers is None else headers
    )


@pytest.fixture
async def client(emulator: BoxpressdEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with connect(emulator) as http:
        yield http


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body


async def page_through(
    client: httpx.AsyncClient, path: str, limit: int, **params: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow `offset` until a page is shorter than `limit`; the rows and every meta."""
    rows: list[dict[str, Any]] = []
    metas: list[dict[str, Any]] = []
    while True:
        response = await client.get(path, params={**params, "limit": limit, "offset": len(rows)})
        assert response.status_code == 200, response.text
        payload = response.json()
        assert set(payload) == {"data", "meta"}
        rows.extend(payload["data"])
        metas.append(payload["meta"])
        if payload["meta"]["count"] < limit:
            return rows, metas


def created(session: dict[str, Any]) -> datetime:
    return parse_timestamp(session["createdAt"])


# ---------------------------------------------------------------- auth and businesses


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": KEY}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}]
    + [{"Authorization": "Bearer wrong-key"}],
)
async def test_a_missing_malformed_or_unknown_key_is_unauthorized(
    emulator: BoxpressdEmulator, headers: dict[str, str]
) -> None:
    async with connect(emulator, headers) as http:
        response = await http.get(SESSIONS)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_the_bearer_scheme_is_case_insensitive(emulator: BoxpressdEmulator) -> None:
    async with connect(emulator, {"Authorization": f"bearer {KEY}"}) as http:
        assert (await http.get(SESSIONS)).status_code == 200


async def test_a_key_on_another_known_business_is_forbidden(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/venues/other-lounge/sessions"), 403, "forbidden")
    assert_error(await client.get("/brands/acme-cigars/sessions"), 403, "forbidden")


async def test_unknown_businesses_and_business_types_are_not_found(
    client: httpx.AsyncClient,
) -> None:
    for path in (
        "/venues/nowhere-lounge/sessions",
        "/brands/stogies-chapin/sessions",  # the slug is a venue's, not a brand's
        "/shops/stogies-chapin/sessions",
        "/venuess/stogies-chapin/sessions",
    ):
        assert_error(await client.get(path), 404, "not_found")


async def test_the_key_is_checked_first_then_existence_then_ownership(
    emulator: BoxpressdEmulator,
) -> None:
    async with connect(emulator, {"Authorization": "Bearer wrong"}) as stranger:
        for path in ("/venues/nowhere/sessions", "/venues/other-lounge/sessions", SESSIONS):
            assert_error(await stranger.get(path, params={"limit": "0"}), 401, "unauthorized")
    async with connect(emulator) as owner:
        unknown = await owner.get("/venues/nowhere/sessions", params={"limit": "0"})
        assert_error(unknown, 404, "not_found")
        foreign = await owner.get("/venues/other-lounge/sessions", params={"limit": "0"})
        assert_error(foreign, 403, "forbidden")
        assert_error(await owner.get(SESSIONS, params={"limit": "0"}), 400, "bad_request")


async def test_other_businesses_can_be_configured(dataset: BoxpressdDataset) -> None:
    emulator = create_emulator(dataset, api_key=KEY, other_businesses=[("venue", "rival")])
    async with connect(emulator) as http:
        assert_error(await http.get("/venues/rival/sessions"), 403, "forbidden")
        assert_error(await http.get("/venues/other-lounge/sessions"), 404, "not_found")


async def test_unknown_paths_are_not_found_and_wrong_methods_are_405_in_the_error_body(
    client: httpx.AsyncClient,
) -> None:
    assert_error(await client.get("/venues/stogies-chapin/checkins"), 404, "not_found")
    assert_error(await client.get("/"), 404, "not_found")
    assert_error(await client.post(SESSIONS, json={}), 405, "method_not_allowed")


def test_bad_configurations_are_rejected(dataset: BoxpressdDataset) -> None:
    with pytest.raises(ValueError, match="api_key"):
        create_emulator(dataset, api_key="")
    with pytest.raises(ValueError, match="business_type"):
        create_emulator(dataset, api_key=KEY, business_type="shop")
    with pytest.raises(ValueError, match="rate_limit"):
        create_emulator(dataset, api_key=KEY, rate_limit=(0, 60))
    explicit = create_emulator(
        dataset, api_key=KEY, business_type="venue", business_id="stogies-chapin"
    )
    assert explicit.business == dataset.business and explicit.dataset is dataset


async def test_a_key_for_another_business_serves_the_same_sessions_as_that_business(
    dataset: BoxpressdDataset,
) -> None:
    venue = create_emulator(dataset, api_key=KEY, business_id="harbor-humidor")
    brand = create_emulator(dataset, api_key=KEY, business_type="brand", business_id="casa-nunez")
    async with connect(venue) as http:
        at_venue, _ = await page_through(http, "/venues/harbor-humidor/sessions", 100)
        assert_error(await http.get(SESSIONS), 403, "forbidden")
    async with connect(brand) as http:
        of_brand, _ = await page_through(http, "/brands/casa-nunez/sessions", 100)

    def skeleton(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["id"], r["createdAt"], r["user"], sorted(r)) for r in rows]

    assert skeleton(at_venue) == skeleton(of_brand) == skeleton(list(dataset.sessions))
    harbor = {"id": "harbor-humidor", "name": "Harbor Humidor"}
    assert all(row["venue"] == harbor for row in at_venue if "venue" in row)
    assert {row["cigar"]["brandName"] for row in of_brand if "cigar" in row} == {"Casa Núñez"}
    assert len({row["venue"]["id"] for row in of_brand if "venue" in row}) > 1
    assert dataset.business.id == "stogies-chapin"
    assert all(row["venue"]["id"] == "stogies-chapin" for row in dataset.sessions if "venue" in row)


# ---------------------------------------------------------------- paging and order


@pytest.mark.parametrize("limit", [7, 100])
async def test_limit_and_offset_page_to_the_end_with_count_the_size_of_each_page(
    client: httpx.AsyncClient, dataset: BoxpressdDataset, limit: int
) -> None:
    rows, metas = await page_through(client, SESSIONS, limit)
    assert rows == list(dataset.sessions)
    assert [meta["offset"] for meta in metas] == list(range(0, limit * len(metas), limit))
    assert all(meta["limit"] == limit for meta in metas)
    assert [meta["count"] for meta in metas[:-1]] == [limit] * (len(metas) - 1)
    assert metas[-1]["count"] == len(dataset.sessions) % limit < limit
    assert sum(meta["count"] for meta in metas) == len(dataset.sessions)


async def test_defaults_are_20_from_the_start_and_past_the_end_is_an_empty_page(
    client: httpx.AsyncClient, dataset: BoxpressdDataset
) -> None:
    first = (await client.get(SESSIONS)).json()
    assert first["meta"] == {"count": 20, "limit": 20, "offset": 0}
    assert first["data"] == list(dataset.sessions[:20])
    beyond = (await client.get(SESSIONS, params={"offset": 10_000})).json()
    assert beyond == {"data": [], "meta": {"count": 0, "limit": 20, "offset": 10_000}}


async def test_sessions_come_most_recent_first_with_ties_broken_by_id_descending(
    client: httpx.AsyncClient, dataset: BoxpressdDataset
) -> None:
    rows, _ = await page_through(client, SESSIONS, 100)
    keys = [(created(row), row["id"]) for row in rows]
    assert keys == sorted(keys, reverse=True)
    tied = [moment for moment, count in Counter(k[0] for k in keys).items() if count > 1]
    assert tied, "the data set must hold sessions created at the same moment"
    for moment in tied:
        ids = [row["id"] for row in rows if created(row) == moment]
        assert ids == sorted(ids, reverse=True)


# ---------------------------------------------------------------- filters


async def test_from_and_to_filter_created_at_inclusively(
    client: httpx.AsyncClient, dataset: BoxpressdDataset
) -> None:
    newer, older = dataset.sessions[40], dataset.sessions[90]
    params = {"from": older["createdAt"], "to": newer["createdAt"]}
    rows, _ = await page_through(client, SESSIONS, 25, **params)
    expected = [s for s in dataset.sessions if created(older) <= created(s) <= created(newer)]
    assert rows == expected and rows[0]["id"] == newer["id"] and rows[-1]["id"] == older["id"]
    only_from, _ = await page_through(client, SESSIONS, 100, **{"from": older["createdAt"]})
    assert only_from == [s for s in dataset.sessions if created(s) >= created(older)]
    only_to, _ = await page_through(client, SESSIONS, 100, to=newer["createdAt"])
    assert only_to == [s for s in dataset.sessions if created(s) <= created(newer)]
    backwards = await client.get(SESSIONS, params={"from": newer["createdAt"], "to": "2020-01-01"})
    assert backwards.json()["data"] == []


async def test_date_only_bounds_mean_the_start_of_that_day_in_utc(
    client: httpx.AsyncClient, dataset: BoxpressdDataset
) -> None:
    day = created(dataset.sessions[100]).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    since, _ = await page_through(client, SESSIONS, 100, **{"from": day.isoformat()})
    assert since == [s for s in dataset.sessions if created(s) >= midnight]
    until, _ = await page_through(client, SESSIONS, 100, to=day.isoformat())
    assert until == [s for s in dataset.sessions if created(s) <= midnight]
    assert len(since) + len(until) == len(dataset.sessions)  # nobody is created at midnight
    # An offset moves the bound: midnight at +02:00 is 22:00 the day before in UTC.
    shifted, _ = await page_through(client, SESSIONS, 100, **{"from": f"{day}T00:00:00+02:00"})
    assert shifted == [s for s in dataset.sessions if created(s) >= midnight - timedelta(hours=2)]


async def test_featured_true_and_false_split_the_sessions_without_showing_the_flag(
    client: httpx.AsyncClient, dataset: BoxpressdDataset
) -> None:
    featured, _ = await page_through(client, SESSIONS, 100, featured="true")
    plain, _ = await page_through(client, SESSIONS, 100, featured="false")
    assert {row["id"] for row in featured} == dataset.featured
    assert featured == [s for s in dataset.sessions if dataset.is_featured(s)]
    assert plain == [s for s in dataset.sessions if not dataset.is_featured(s)]
    assert 0 < len(featured) < len(plain)
    assert all("featured" not in row for row in featured + plain)
    recent = dataset.sessions[60]["createdAt"]
    both, _ = await page_through(client, SESSIONS, 10, featured="true", **{"from": recent})
    assert both == [s for s in featured if created(s) >= created(dataset.sessions[60])]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "-1"},
        {"limit": "abc"},
        {"limit": "2.5"},
        {"limit": ""},
        {"offset": "-1"},
        {"offset": "abc"},
        {"offset": "1e3"},
        {"from": "yesterday"},
        {"from": "2026-13-01"},
        {"to": "2026-02-30T10:00:00Z"},
        {"to": ""},
        {"featured": "yes"},
        {"featured": "True"},
        {"featured": "1"},
        [("limit", "10"), ("limit", "20")],
    ],
)
async def test_malformed_parameters_are_bad_requests(
    client: httpx.AsyncClient, params: Any
) -> None:
    assert_error(await client.get(SESSIONS, params=params), 400, "bad_request")


async def test_parameter_bounds_and_unknown_parameters_are_accepted(
    client: httpx.AsyncClient,
) -> None:
    for params in ({"limit": "1"}, {"limit": "100"}, {"offset": "0"}, {"cigarId": "cgr_1"}):
        response = await client.get(SESSIONS, params=params)
        assert response.status_code == 200, params
    assert (await client.get(SESSIONS, params={"limit": "1"})).json()["meta"]["count"] == 1


# ---------------------------------------------------------------- brands and fields


async def test_a_brands_key_lists_its_sessions_with_cigars_of_that_brand() -> None:
    brand = generate_dataset(
        seed=3, sessions=120, users=30, business_type="brand", business_id="acme-cigars"
    )
    emulator = create_emulator(brand, api_key=KEY)
    async with connect(emulator) as http:
        rows, _ = await page_through(http, "/brands/acme-cigars/sessions", 50)
        assert_error(await http.get("/venues/acme-cigars/sessions"), 404, "not_found")
        assert_error(await http.get(SESSIONS), 403, "forbidden")
    assert rows == list(brand.sessions) and len(rows) == 120
    cigars = [row["cigar"] for row in rows if "cigar" in row]
    assert {cigar["brandName"] for cigar in cigars} == {"Acme Cigars"}
    assert {cigar["id"] for cigar in cigars} <= {c["id"] for c in catalogue_for(brand.business)}
    assert len({row["venue"]["id"] for row in rows if "venue" in row}) > 1


def test_a_brand_outside_the_catalogue_gets_cigars_of_its_own() -> None:
    brand = generate_dataset(sessions=40, users=10, business_type="brand", business_id="zoe-leaf")
    assert brand.business.name == "Zoe Leaf"
    assert {s["cigar"]["brandName"] for s in brand.sessions if "cigar" in s} == {"Zoe Leaf"}


async def test_absent_optional_fields_are_missing_keys_never_null(
    client: httpx.AsyncClient, dataset: BoxpressdDataset
) -> None:
    rows, _ = await page_through(client, SESSIONS, 100)

    def nulls(value: Any) -> int:
        if isinstance(value, dict):
            return sum(nulls(item) for item in value.values())
        if isinstance(value, list):
            return sum(nulls(item) for item in value)
        return int(value is None)

    assert nulls(rows) == 0
    total = len(rows)
    for key in OPTIONAL:
        missing = sum(key not in row for row in rows)
        assert 0.2 * total <= missing <= 0.4 * total, key
    avatarless = sum("avatarUrl" not in row["user"] for row in rows)
    assert 0.2 * total <= avatarless <= 0.4 * total
    for key in FEW:
        assert 0 < sum(key not in row for row in rows) <= 0.05 * total, key
    assert all(set(row) <= SESSION_KEYS and {"id", "createdAt", "user"} <= set(row) for row in rows)
    assert all(set(row["user"]) - {"avatarUrl"} == {"id", "displayName"} for row in rows)
    venue = {"id": "stogies-chapin", "name": "Stogies Cigar Lounge & Tap House"}
    assert all(row["venue"] == venue for row in rows if "venue" in row)


# ---------------------------------------------------------------- new sessions


async def test_add_sessions_makes_a_from_query_return_exactly_the_new_ones(
    dataset: BoxpressdDataset,
) -> None:
    emulator = create_emulator(dataset, api_key=KEY)
    newest = dataset.sessions[0]
    regular = max(dataset.users(), key=lambda user_id: len(dataset.sessions_of(user_id)))
    by_regular = emulator.add_sessions(2, users=[regular])
    by_newcomers = emulator.add_sessions(3)
    added = by_regular + by_newcomers
    moments = [created(session) for session in added]
    assert moments == [created(newest) + timedelta(minutes=n) for n in (1, 2, 3, 4, 5)]
    async with connect(emulator) as http:
        since = {"from": iso(created(newest) + timedelta(milliseconds=1))}
        fresh, _ = await page_through(http, SESSIONS, 2, **since)
        everything, _ = await page_through(http, SESSIONS, 100)
    assert fresh == added[::-1]
    assert everything[5:] == list(dataset.sessions) and len(everything) == 305
    assert all(session["user"]["id"] == regular for session in by_regular)
    assert by_regular[0]["user"] == dataset.sessions_of(regular)[0]["user"]
    newcomers = {session["user"]["id"] for session in by_newcomers}
    assert len(newcomers) == 3 and not newcomers & set(dataset.users())
    assert len(emulator.dataset.users()) == 63 and len(dataset.users()) == 60
    assert emulator.dataset.sessions_of(regular)[:2] == by_regular[::-1]
    ids = [session["id"] for session in emulator.dataset.sessions]
    assert len(set(ids)) == len(ids)


def test_add_sessions_is_deterministic_and_rejects_unknown_users(
    dataset: BoxpressdDataset,
) -> None:
    first, second = (create_emulator(dataset, api_key=KEY) for _ in range(2))
    assert first.add_sessions(4) == second.add_sessions(4)
    assert first.add_sessions(0) == []
    with pytest.raises(ValueError, match="Unknown user"):
        first.add_sessions(1, users=["usr_nobody"])
    with pytest.raises(ValueError, match="negative"):
        first.add_sessions(-1)


# ---------------------------------------------------------------- rate limit, faults, counts


async def test_there_is_no_rate_limit_unless_one_is_asked_for(
    client: httpx.AsyncClient, emulator: BoxpressdEmulator
) -> None:
    for _ in range(150):
        response = await client.get(SESSIONS, params={"limit": 1})
        assert response.status_code == 200
    assert not any(name.lower().startswith("ratelimit") for name in response.headers)
    assert emulator.into_full_window == 0


async def test_a_configured_rate_limit_answers_429_with_retry_after_until_the_window_ends(
    dataset: BoxpressdDataset,
) -> None:
    now = [1_000.0]
    emulator = create_emulator(dataset, api_key=KEY, rate_limit=(3, 60), clock=lambda: now[0])
    async with connect(emulator) as http:
        answers = [await http.get(SESSIONS) for _ in range(3)]
        assert [r.status_code for r in answers] == [200] * 3
        assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
        now[0] += 20
        refused = await http.get(SESSIONS)
        assert_error(refused, 429, "rate_limited")
        assert refused.headers["Retry-After"] == "40"
        assert_error(await http.get(SESSIONS), 429, "rate_limited")
        assert emulator.into_full_window == 2
        assert_error(await http.get(SESSIONS, headers={"Authorization": "x"}), 401, "unauthorized")
        now[0] += 40
        again = await http.get(SESSIONS)
        assert again.status_code == 200 and again.headers["RateLimit-Remaining"] == "2"
    assert emulator.into_full_window == 2 and emulator.requests["sessions.list"] == 7


async def test_injected_500_and_429_use_the_error_body_and_fail_next_clears_itself(
    client: httpx.AsyncClient, emulator: BoxpressdEmulator
) -> None:
    emulator.faults.status = 500
    assert_error(await client.get(SESSIONS), 500, "internal")
    emulator.faults.status, emulator.faults.retry_after = 429, 7
    throttled = await client.get(SESSIONS)
    assert_error(throttled, 429, "rate_limited")
    assert throttled.headers["Retry-After"] == "7"
    emulator.faults.status = 503
    assert_error(await client.get(SESSIONS), 503, "service_unavailable")
    emulator.faults.status, emulator.faults.fail_next = 500, 2
    statuses = [(await client.get(SESSIONS)).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


async def test_faults_can_be_limited_to_other_endpoints(
    client: httpx.AsyncClient, emulator: BoxpressdEmulator
) -> None:
    emulator.faults.status, emulator.faults.endpoints = 500, frozenset({"checkins.list"})
    assert (await client.get(SESSIONS)).status_code == 200
    emulator.faults.endpoints = frozenset({"sessions.list"})
    assert (await client.get(SESSIONS)).status_code == 500


async def test_malformed_json_fault_answers_200_with_an_unparseable_body(
    client: httpx.AsyncClient, emulator: BoxpressdEmulator
) -> None:
    emulator.faults.malformed_json = True
    response = await client.get(SESSIONS)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_latency_delays_and_hang_never_answers(
    dataset: BoxpressdDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = HeldSleeps(monkeypatch, emulation)  # the emulator's sleeps, held: no clock
    slow = create_emulator(dataset, api_key=KEY, faults=Faults(latency_seconds=0.2))
    async with connect(slow) as http:
        answer = asyncio.create_task(http.get(SESSIONS))
        await sleeps.asked_or_done(answer)
        # Taken, and asleep for the fault's latency: unanswered until the sleep ends.
        assert sleeps.asked == [0.2]
        assert not answer.done() and slow.served == []
        sleeps.release()
        assert (await answer).status_code == 200
        slow.faults.latency_seconds, slow.faults.hang = 0.0, True
        slow.reset_counts()
        hanging = asyncio.create_task(http.get(SESSIONS))
        # Counted in turns of the event loop, not seconds: in process an answer takes one turn.
        for _ in range(50):
            await asyncio.sleep(0)
        assert slow.total_requests == 1  # taken…
        assert not hanging.done() and slow.served == []  # …and never answered
        hanging.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hanging
        slow.faults.hang = False
        assert (await http.get(SESSIONS)).status_code == 200
        assert sleeps.asked == [0.2]  # without latency, no sleep


async def test_requests_are_counted_per_endpoint_including_failures(
    client: httpx.AsyncClient, emulator: BoxpressdEmulator
) -> None:
    await client.get(SESSIONS)
    await client.get(SESSIONS, headers={"Authorization": "Bearer wrong"})
    await client.get(SESSIONS, params={"limit": "0"})
    await client.get("/venues/other-lounge/sessions")
    await client.get("/brands/nowhere/sessions")
    await client.get("/unknown")
    await client.post(SESSIONS)
    assert emulator.requests == {"sessions.list": 5}
    assert emulator.total_requests == 5
    emulator.reset_counts()
    assert emulator.total_requests == 0


# ---------------------------------------------------------------- the data set


def test_dataset_is_deterministic_for_a_seed_and_differs_for_another() -> None:
    assert generate_dataset(seed=1) == generate_dataset(seed=1)
    assert generate_dataset(seed=1).sessions != generate_dataset(seed=2).sessions
    small = generate_dataset(seed=1, sessions=50, users=20)
    assert len(small.sessions) == 50 and len(small.users()) == 20


def test_dataset_has_distinct_users_each_with_sessions_some_with_many(
    dataset: BoxpressdDataset,
) -> None:
    users = dataset.users()
    assert len(users) == 60 and all(user_id.startswith("usr_") for user_id in users)
    counts = Counter(session["user"]["id"] for session in dataset.sessions)
    assert set(counts) == set(users) and min(counts.values()) >= 1
    assert max(counts.values()) >= 10 and sum(count == 1 for count in counts.values()) >= 3
    names = list(users.values())
    assert names[:3] == ["Trevor B.", "Zoë K.", "José M."]
    assert len(set(names)) == len(names)
    assert sum(not name.isascii() for name in names) >= 5
    for user_id, name in users.items():
        mine = dataset.sessions_of(user_id)
        assert len(mine) == counts[user_id]
        assert all(s["user"]["id"] == user_id and s["user"]["displayName"] == name for s in mine)
        assert len({json.dumps(s["user"], sort_keys=True) for s in mine}) == 1
    assert dataset.sessions_of("usr_nobody") == []


def test_sessions_have_unique_ids_a_year_of_utc_times_and_catalogue_cigars(
    dataset: BoxpressdDataset,
) -> None:
    ids = [session["id"] for session in dataset.sessions]
    assert len(set(ids)) == len(ids) == 300 and all(i.startswith("ses_") for i in ids)
    moments = [created(session) for session in dataset.sessions]
    assert min(moments) >= ANCHOR - SPAN and max(moments) < ANCHOR
    assert max(moments) - min(moments) > timedelta(days=300)
    catalogue = {cigar["id"]: cigar for cigar in catalogue_for(dataset.business)}
    assert 10 <= len(catalogue) <= 20
    for session in dataset.sessions:
        for key in ("createdAt", "startedAt", "endedAt"):
            if key in session:
                text = session[key]
                assert len(text) == 24 and text.endswith("Z") and text[19] == "."
                assert iso(parse_timestamp(text)) == text
        if {"startedAt", "endedAt", "durationSeconds"} <= set(session):
            span = parse_timestamp(session["endedAt"]) - parse_timestamp(session["startedAt"])
            assert span.total_seconds() == session["durationSeconds"] > 0
        if "endedAt" in session:
            assert parse_timestamp(session["endedAt"]) <= created(session)
        if "cigar" in session:
            assert session["cigar"] == catalogue[session["cigar"]["id"]]
        if "rating" in session:
            assert 1 <= session["rating"] <= 5
    assert len({s["cigar"]["brandName"] for s in dataset.sessions if "cigar" in s}) >= 4


def test_impossible_sizes_and_unknown_business_types_are_rejected() -> None:
    with pytest.raises(ValueError, match="sessions"):
        generate_dataset(sessions=10, users=20)
    with pytest.raises(ValueError, match="users"):
        generate_dataset(users=0)
    with pytest.raises(ValueError, match="business_type"):
        generate_dataset(business_type="shop")
