"""The document's query over the benchmark's data: two round trips to Wix, at most eight
calls, whatever the number of pages the relations span."""

from __future__ import annotations

import dataclasses

import pytest

from server.providers.registry import PROVIDERS
from server.providers.spec import ProviderSpec
from server.providers.wix.emulated.dataset import generate_dataset
from tests.server.conftest import World
from tests.server.documents import EXAMPLE_QUERY

LATENCY = 0.02  # seconds per call: calls made together overlap, calls in turn do not


def _benchmark_shaped(spec: ProviderSpec) -> ProviderSpec:
    """Wix with the request benchmark's data: ten bookings and ten orders per contact."""
    assert spec.emulated is not None
    emulated = dataclasses.replace(
        spec.emulated, dataset=lambda seed, size: generate_dataset(seed, size, per_contact=10)
    )
    return dataclasses.replace(spec, emulated=emulated)


@pytest.fixture
def providers() -> tuple[ProviderSpec, ...]:
    return tuple(_benchmark_shaped(s) if s.name == "wix" else s for s in PROVIDERS)


async def _example(world: World) -> dict:
    response = await world.query(EXAMPLE_QUERY)
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    nodes = body["data"]["activeBusiness"]["participants"]["nodes"]
    assert len(nodes) == 25
    assert all(len(n["registrations"]["nodes"]) == 10 for n in nodes)
    assert all(len(n["productPurchases"]["nodes"]) == 10 for n in nodes)
    return body


async def test_the_example_query_takes_two_round_trips_and_eight_calls(world: World) -> None:
    emulator = world.emulator()
    emulator.faults.latency_seconds = LATENCY
    first = await _example(world)  # learns how many bookings and orders a contact has
    world.reset_counts()
    again = await _example(world)
    assert again == first
    assert emulator.round_trips == 2  # contacts; then consent, bookings and orders together
    assert sum(emulator.requests.values()) <= 8
    # activitySession { id } and product { id } come from the registration and the order.
    assert set(emulator.requests) == {
        "contacts.query",
        "subscriptions.query",
        "bookings.query",
        "orders.search",
    }


async def test_the_next_page_of_participants_keeps_to_two_round_trips(world: World) -> None:
    emulator = world.emulator()
    emulator.faults.latency_seconds = LATENCY
    await _example(world)
    later = EXAMPLE_QUERY.replace("participants(first: 25)", "participants(first: 40)")
    world.reset_counts()
    response = await world.query(later)
    assert "errors" not in response.json()
    assert emulator.round_trips == 2
    assert emulator.requests["bookings.query"] == 4  # 400 bookings, one page per chunk
