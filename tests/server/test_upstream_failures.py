"""A provider that fails, throttles or garbles never turns into a 500 or leaks its text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import World, answered

UPSTREAM_TIMEOUT = 1.0  # every call that should succeed has a second, however loaded
PAGE = """{ activeBusiness { name participants(first: 3) {
  nodes { id } pageInfo { hasNextPage endCursor } } } }"""


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"upstream_timeout_seconds": UPSTREAM_TIMEOUT}


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "retry_after": 30},
        {"status": 500},
        {"malformed_json": True},
        pytest.param({"hang": True}, marks=pytest.mark.slow),  # three tries to the deadline
    ],
    ids=["throttled", "server error", "malformed json", "too slow"],
)
async def test_a_failing_participants_list_is_upstream_unavailable(
    world: World, fault: dict[str, Any]
) -> None:
    for name, value in fault.items():
        setattr(world.emulator().faults, name, value)
    response = await world.query(PAGE)
    assert response.status_code == 200
    body = answered(response)
    business = body["data"]["activeBusiness"]
    assert business["name"] == "Tremble Studios"  # the business never depends on a provider
    assert business["participants"]["nodes"] == []
    assert business["participants"]["pageInfo"]["hasNextPage"] is True  # not the end
    assert business["participants"]["pageInfo"]["endCursor"]
    [error] = body["errors"]
    # A provider that says when to come back (a 429's Retry-After) is quoted to the client.
    when = {"retryAfter": fault["retry_after"]} if "retry_after" in fault else {}
    assert error["extensions"] == {
        "code": "UPSTREAM_UNAVAILABLE",
        "provider": "wix",
        "connection": world.connections["tremble"],
        **when,
    }
    assert error["path"] == ["activeBusiness", "participants"]
    for leaked in ("RESOURCE_EXHAUSTED", "INTERNAL", "Traceback", "wix-key", "unexpected"):
        assert leaked not in response.text


async def test_another_business_is_unaffected_by_a_failing_provider(world: World) -> None:
    world.emulator().faults.status = 500
    body = (await world.query(PAGE, key="acme", handle="acme")).json()
    assert "errors" not in body
    assert len(body["data"]["activeBusiness"]["participants"]["nodes"]) == 3
