"""Participants across several provider connections, over HTTP: each exactly once, in
connection order, whatever the page size; a provider added with a folder and one line."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from server.providers.emulated import emulation
from server.providers.registry import PROVIDERS
from server.providers.spec import ProviderSpec
from tests.loop_lag import replace_sleep
from tests.server.conftest import TREMBLE_CONTACTS, World
from tests.server.providers.fake.spec import SPEC as FAKE

PAGE = """query($first: Int, $after: String) { activeBusiness {
  participants(first: $first, after: $after) {
    nodes { id name registrations { nodes { id status } } }
    pageInfo { hasNextPage endCursor } } } }"""


@pytest.fixture
def providers() -> tuple[ProviderSpec, ...]:
    return (*PROVIDERS, FAKE)  # the one registry line


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"key_rate_limit": 100_000, "business_rate_limit": 100_000}


@pytest.fixture
def connected() -> dict[str, tuple[str, ...]]:
    return {"tremble": ("fake", "wix", "fake"), "acme": ("wix",)}


async def page_to_the_end(world: World, first: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        body = (await world.query(PAGE, {"first": first, "after": after})).json()
        assert "errors" not in body, body
        connection = body["data"]["activeBusiness"]["participants"]
        seen += connection["nodes"]
        if not connection["pageInfo"]["hasNextPage"]:
            return seen
        after = connection["pageInfo"]["endCursor"]


@pytest.mark.parametrize("first", [1, 7, 25, 100])
async def test_every_participant_of_three_connections_once_in_connection_order(
    world: World, first: int
) -> None:
    seen = await page_to_the_end(world, first)
    fake_1 = world.emulator("fake").dataset.people
    fake_2 = world.emulator("fake.2").dataset.people
    wix = world.emulator("wix").dataset.contacts
    expected_names = (
        [p["name"] for p in fake_1]
        + [f"{c['info']['name']['first']} {c['info']['name']['last']}" for c in wix]
        + [p["name"] for p in fake_2]
    )
    assert [n["name"] for n in seen] == expected_names
    assert len({n["id"] for n in seen}) == 3 * TREMBLE_CONTACTS


async def test_the_fake_providers_relations_reach_the_graph(world: World) -> None:
    body = (await world.query(PAGE, {"first": 3})).json()
    nodes = body["data"]["activeBusiness"]["participants"]["nodes"]
    attendance = world.emulator("fake").dataset.attendance
    people = world.emulator("fake").dataset.people
    for node, person in zip(nodes, people, strict=False):
        assert len(node["registrations"]["nodes"]) == len(attendance[person["id"]])
        assert {r["status"] for r in node["registrations"]["nodes"]} <= {"attended"}


class InFlightTogether:
    """Stands in for the emulators' latency: each delayed call waits, instead of sleeping,
    until `expected` delayed calls are in flight at once, so that calls made together
    overlap however loaded the machine is. Calls made one after the other never get there:
    each gives up after `patience` seconds (only a failing run waits) and is answered then.
    It runs on the emulators' own event loop (the upstream's thread)."""

    def __init__(self, expected: int, patience: float = 5.0) -> None:
        self.expected = expected
        self.patience = patience
        self.arrived = 0
        self._everyone: asyncio.Event | None = None

    async def sleep(self, seconds: float) -> None:
        if self._everyone is None:
            self._everyone = asyncio.Event()
        self.arrived += 1
        if self.arrived >= self.expected:
            self._everyone.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._everyone.wait(), self.patience)


async def test_relation_calls_for_different_connections_run_at_the_same_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page that spans the first fake connection and Wix asks both for registrations:
    # one call to each.
    body = (await world.query(PAGE, {"first": 100})).json()
    end = body["data"]["activeBusiness"]["participants"]["pageInfo"]["endCursor"]
    world.reset_counts()
    together = InFlightTogether(expected=2)
    replace_sleep(monkeypatch, emulation, together.sleep)
    relations = {"fake": "attendance.batch", "wix": "bookings.query"}
    for provider, endpoint in relations.items():
        world.emulator(provider).faults.latency_seconds = 1.0  # not slept: see InFlightTogether
        world.emulator(provider).faults.endpoints = frozenset({endpoint})
    body = (await world.query(PAGE, {"first": 25, "after": end})).json()
    nodes = body["data"]["activeBusiness"]["participants"]["nodes"]
    assert len(nodes) == 25
    assert world.upstream_calls(provider="fake")["attendance.batch"] == 1
    assert world.upstream_calls(provider="wix")["bookings.query"] == 1
    # Each emulator's own record of when it served its relation call (monotonic start and
    # end, one clock for both): the two intervals overlap, the calls were in flight together.
    [(fake_start, fake_end)] = served(world, "fake", relations["fake"])
    [(wix_start, wix_end)] = served(world, "wix", relations["wix"])
    assert fake_start < wix_end and wix_start < fake_end
    assert together.arrived == 2


def served(world: World, provider: str, endpoint: str) -> list[tuple[float, float]]:
    return [
        (start, end) for name, start, end in world.emulator(provider).served if name == endpoint
    ]
