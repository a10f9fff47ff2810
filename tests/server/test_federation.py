"""Participants across several provider connections, over HTTP: each exactly once, in
connection order, whatever the page size; a provider added with a folder and one line."""

from __future__ import annotations

import time
from typing import Any

import pytest

from server.providers.registry import PROVIDERS
from server.providers.spec import ProviderSpec
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


async def test_relation_calls_for_different_connections_run_at_the_same_time(
    world: World,
) -> None:
    # A page that spans the first fake connection and Wix asks both for registrations:
    # one call to each.
    body = (await world.query(PAGE, {"first": 100})).json()
    end = body["data"]["activeBusiness"]["participants"]["pageInfo"]["endCursor"]
    world.reset_counts()
    latency = 0.5
    for provider in ("fake", "wix"):
        world.emulator(provider).faults.latency_seconds = latency
    began = time.monotonic()
    body = (await world.query(PAGE, {"first": 25, "after": end})).json()
    elapsed = time.monotonic() - began
    nodes = body["data"]["activeBusiness"]["participants"]["nodes"]
    assert len(nodes) == 25
    assert world.upstream_calls(provider="fake")["attendance.batch"] == 1
    assert world.upstream_calls(provider="wix")["bookings.query"] == 1
    # Two listing calls one after the other, then both relation calls together: three
    # latencies, not four.
    assert 3 * latency <= elapsed < 3.9 * latency  # four would be 4 * latency
