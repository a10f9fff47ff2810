"""The cost limit over HTTP, lowered to 100 points: an operation priced at the limit runs,
one point over is refused before anything runs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import World

LIMIT = 100
# activeBusiness 1 + participants (2 + $n × participant 1)
PAGE = "query($n: Int) { activeBusiness { participants(first: $n) { nodes { id name } } } }"
FRAGMENTS = """query($n: Int) { activeBusiness { ...Page ...Page } }
fragment Page on Business { participants(first: $n) { nodes { id } pageInfo { endCursor } } }"""
ALIASED = """query($n: Int) { activeBusiness {
  one: participants(first: $n) { nodes { id } }
  two: participants(first: $n) { nodes { id } } } }"""


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"max_cost": LIMIT}


async def test_an_operation_priced_at_the_limit_runs(world: World) -> None:
    world.reset_counts()
    body = (await world.query(PAGE, {"n": LIMIT - 3})).json()
    assert "errors" not in body
    assert len(body["data"]["activeBusiness"]["participants"]["nodes"]) == LIMIT - 3
    assert body["extensions"]["cost"] == {"requestedQueryCost": 100, "actualQueryCost": 100}
    assert world.upstream_calls() == {"contacts.query": 1}


async def test_one_point_over_the_limit_is_refused_and_nothing_runs(world: World) -> None:
    world.reset_counts()
    response = await world.query(PAGE, {"n": LIMIT - 2})
    body = response.json()
    assert response.status_code == 200
    assert "data" not in body and "extensions" not in body
    [error] = body["errors"]
    extensions = error["extensions"]
    assert (extensions["code"], extensions["cost"], extensions["limit"]) == (
        "MAX_COST_EXCEEDED",
        101,
        100,
    )
    assert "cost 101 points; the limit is 100" in error["message"]
    assert world.upstream_calls() == {}


async def test_the_refusal_is_400_for_graphql_response_json(world: World) -> None:
    response = await world.query(
        PAGE, {"n": LIMIT}, headers={"Accept": "application/graphql-response+json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


async def test_a_fragment_spread_twice_is_priced_once(world: World) -> None:
    body = (await world.query(FRAGMENTS, {"n": LIMIT - 3})).json()
    assert "errors" not in body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 100


async def test_two_aliases_of_one_connection_are_priced_twice(world: World) -> None:
    body = (await world.query(ALIASED, {"n": 48})).json()  # 1 + 2 × (2 + 48) = 101
    assert body["errors"][0]["extensions"]["cost"] == 101
    body = (await world.query(ALIASED, {"n": 47})).json()
    assert body["extensions"]["cost"]["requestedQueryCost"] == 99


async def test_a_price_kept_for_one_first_is_not_used_for_another(world: World) -> None:
    assert "errors" not in (await world.query(PAGE, {"n": 10})).json()
    refused = (await world.query(PAGE, {"n": 99})).json()
    assert refused["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    again = (await world.query(PAGE, {"n": 10})).json()
    assert again["extensions"]["cost"] == {"requestedQueryCost": 13, "actualQueryCost": 13}
