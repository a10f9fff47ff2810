"""The activity simulator: a seeded stream of plausible changes over every emulator in the
registry, each step seen through the provider's own HTTP API."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from server.providers.emulated.activity import Activity, NothingToChange
from server.providers.emulated.mutations import Intent
from server.providers.registry import PROVIDERS
from server.providers.spec import ProviderSpec
from tests.server.providers.fake.spec import SPEC as FAKE

CREDENTIAL = "activity-test-credential"
SIZE = 20

Snapshot = Callable[[httpx.AsyncClient, str], Awaitable[Any]]


def build(spec: ProviderSpec, seed: int = 3) -> Any:
    emulated = spec.emulated
    emulator = emulated.emulator(emulated.dataset(seed, SIZE), emulated.account_id, CREDENTIAL)
    emulator.rate_limit = None  # looking at every step is not what the budgets are about
    return emulator


def connect(spec: ProviderSpec, emulator: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator.app),
        base_url="http://emulator",
        headers=spec.headers(spec.emulated.account_id, CREDENTIAL),
    )


# ---------------------------------------------------------------- what each API shows


async def _wix(http: httpx.AsyncClient, account: str) -> Any:
    async def cursor(path: str, wrapper: str, items: str, limit: int, **extra: Any) -> list:
        rows: list = []
        query: dict[str, Any] = {"cursorPaging": {"limit": limit}, **extra}
        while True:
            body = (await http.post(path, json={wrapper: query})).json()
            rows += body[items]
            block = body.get("pagingMetadata") or body.get("metadata") or {}
            if not block.get("hasNext"):
                return rows
            query = {"cursorPaging": {"limit": limit, "cursor": block["cursors"]["next"]}}

    return [
        await cursor("/contacts/v4/contacts/query", "query", "contacts", 1000),
        await cursor(
            "/bookings/v2/calendar/sessions/query", "query", "sessions", 1000, fieldsets=["ALL_PI"]
        ),
        await cursor(
            "/_api/bookings-reader/v2/extended-bookings/query", "query", "extendedBookings", 100
        ),
        await cursor("/ecom/v1/orders/search", "search", "orders", 100),
        (await http.post("/email-marketing/v1/email-subscriptions/query", json={})).json(),
    ]


async def _sessionboard(http: httpx.AsyncClient, account: str) -> Any:
    async def pages(method: str, path: str) -> list:
        rows: list = []
        page = 1
        while True:
            params = {"page": page, "pageSize": 100}
            body = (await http.request(method, path, params=params)).json()
            rows += body.get("data") or body.get("results") or []
            if page >= body["pagination"]["totalPages"]:
                return rows
            page += 1

    events = await pages("GET", "/v1/events")
    return [
        await pages("POST", f"/v1/organization/{account}/contacts"),
        *[await pages("POST", f"/v1/event/{event['id']}/sessions") for event in events],
    ]


async def _sessions(http: httpx.AsyncClient, account: str) -> Any:
    async def pages(path: str) -> list:
        rows: list = []
        while True:
            body = (await http.get(path, params={"page": len(rows) // 20 + 1})).json()
            rows += body
            if len(body) < 20:
                return rows

    sessions = await pages("/api/sessions")
    listed = [(await http.get(f"/api/sessions/{s['id']}/participants")).json() for s in sessions]
    return [sessions, listed, await pages("/api/bookings"), await pages("/api/events")]


async def _boxpressd(http: httpx.AsyncClient, account: str) -> Any:
    kind, _, business = account.partition("/")
    rows: list = []
    while True:
        params = {"limit": 100, "offset": len(rows)}
        body = (await http.get(f"/{kind}s/{business}/sessions", params=params)).json()
        rows += body["data"]
        if body["meta"]["count"] < 100:
            return rows


SNAPSHOTS: dict[str, Snapshot] = {
    "wix": _wix,
    "sessionboard": _sessionboard,
    "sessions": _sessions,
    "boxpressd": _boxpressd,
}


async def snapshot(spec: ProviderSpec, emulator: Any) -> str:
    async with connect(spec, emulator) as http:
        seen = await SNAPSHOTS[spec.name](http, spec.emulated.account_id)
    return json.dumps(seen, sort_keys=True)


# ---------------------------------------------------------------- the stream


@pytest.mark.slow
async def test_every_step_over_the_four_emulators_changes_what_their_http_apis_show() -> None:
    assert sorted(SNAPSHOTS) == sorted(spec.name for spec in PROVIDERS)
    specs = {spec.name: spec for spec in PROVIDERS}
    emulators = {name: build(spec) for name, spec in specs.items()}
    activity = Activity(emulators, random.Random(42))
    steps = Counter[str]()
    intents = Counter[Intent]()
    for _ in range(60):
        before = {name: await snapshot(specs[name], e) for name, e in emulators.items()}
        line = activity.step()
        step = activity.last
        assert step is not None and line == str(step) and line.startswith(f"{step.provider}: ")
        for name, emulator in emulators.items():
            after = await snapshot(specs[name], emulator)
            assert (after != before[name]) == (name == step.provider), (line, name)
        assert step.answer["touched"] and step.answer["kind"] == step.change["kind"]
        steps[step.provider] += 1
        intents[step.intent] += 1
    assert set(steps) == set(emulators)
    assert {Intent.JOIN, Intent.REGISTER} <= set(intents) and len(intents) >= 6
    assert activity.steps == 60


def test_a_seed_replays_the_same_stream() -> None:
    def stream(seed: int) -> list[str]:
        emulators = {spec.name: build(spec) for spec in PROVIDERS}
        activity = Activity(emulators, random.Random(seed))
        lines = []
        for _ in range(15):
            activity.step()
            assert activity.last is not None
            lines.append(json.dumps(activity.last.change, sort_keys=True))
        return lines

    assert stream(7) == stream(7) != stream(8)


def test_emulators_that_cannot_change_are_left_out_and_nothing_left_is_said() -> None:
    fake = FAKE.emulated.emulator(FAKE.emulated.dataset(1, 5), "x", CREDENTIAL)
    wix = next(spec for spec in PROVIDERS if spec.name == "wix")
    activity = Activity({"fake": fake, "wix": build(wix)}, random.Random(1))
    assert list(activity.emulators) == ["wix"]
    assert activity.step().startswith("wix: ")
    with pytest.raises(NothingToChange):
        Activity({"fake": fake}, random.Random(1)).step()


async def test_run_pauses_about_every_interval_between_steps_and_stops_when_cancelled() -> None:
    pauses: list[float] = []
    held = asyncio.Event()

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) >= 3:
            held.set()
            await asyncio.Event().wait()  # the third pause lasts until cancelled

    emulators = {spec.name: build(spec) for spec in PROVIDERS}
    lines: list[str] = []
    activity = Activity(emulators, random.Random(5), sleep=sleep)
    task = asyncio.create_task(activity.run(10.0, report=lines.append))
    await held.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(lines) == 3 and activity.steps == 3
    assert all(5.0 <= pause <= 15.0 for pause in pauses)

    counted = Activity(emulators, random.Random(5), sleep=sleep)
    pauses.clear()
    held.clear()
    await counted.run(0.0, steps=2, report=lines.append)
    assert counted.steps == 2 and pauses == [0.0]


async def test_an_emulator_whose_data_cannot_change_answers_mutate_with_not_found() -> None:
    fake = FAKE.emulated.emulator(FAKE.emulated.dataset(1, 5), "x", CREDENTIAL)
    async with connect(FAKE, fake) as http:
        refused = await http.post("/__mutate", json={"kind": "participant", "op": "add"})
        anonymous = await http.post(
            "/__mutate", json={"kind": "participant"}, headers={"x-fake-token": "no"}
        )
    assert refused.status_code == 404 and set(refused.json()) == {"problem"}
    assert anonymous.status_code == 401
