"""A business on Sessionboard alone, over HTTP: what a page of participants costs."""

from __future__ import annotations

import math

import pytest

from tests.server.conftest import World

PAGE = """query($first: Int, $after: String) { activeBusiness {
  participants(first: $first, after: $after) {
    nodes { id name email emailMarketingConsent { status }
      registrations(first: 10) { nodes { id status confirmedAt activitySession { id } } }
      productPurchases { nodes { id } } }
    pageInfo { hasNextPage endCursor } } } }"""


@pytest.fixture
def connected() -> dict[str, tuple[str, ...]]:
    return {"tremble": ("sessionboard:live",), "acme": ("wix",)}


@pytest.mark.parametrize("first", [25, 5])
async def test_a_page_costs_its_contacts_call_and_the_sessions_once_per_cache_time(
    world: World, first: int
) -> None:
    sessionboard = world.emulator("sessionboard")
    session_pages = sum(
        math.ceil(len(s) / 100) for s in sessionboard.dataset.sessions_by_event.values()
    )
    body = (await world.query(PAGE, {"first": first})).json()
    assert "errors" not in body, body
    nodes = body["data"]["activeBusiness"]["participants"]["nodes"]
    assert len(nodes) == first
    assert all(n["emailMarketingConsent"] is None for n in nodes)
    assert all(n["productPurchases"]["nodes"] == [] for n in nodes)
    assert any(n["registrations"]["nodes"] for n in nodes)
    assert dict(sessionboard.requests) == {
        "contacts.search": 1,
        "events.list": 1,
        "sessions.search": session_pages,
    }
    sessionboard.reset_counts()
    after = body["data"]["activeBusiness"]["participants"]["pageInfo"]["endCursor"]
    assert "errors" not in (await world.query(PAGE, {"first": first, "after": after})).json()
    assert dict(sessionboard.requests) == {"contacts.search": 1}
