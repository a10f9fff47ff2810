"""`extensions.cost` over HTTP with the default limit: the price of the Business API
document's example query, and what its answer actually cost."""

from __future__ import annotations

import asyncio
from typing import Any

from graphql import parse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from schema.engine import compiled
from schema.engine.analysis import analyse
from schema.engine.query_cost import price
from server.settings import Settings
from tests.server.conftest import World
from tests.server.documents import EXAMPLE_QUERY

ADMIN = {"Authorization": "Bearer admin-token-for-tests-0123456789abcdef"}


def example_price(world: World) -> int:
    executor = world.services.executor
    schema = executor.slices.for_scopes(executor.policy.scopes)
    document = parse(EXAMPLE_QUERY)
    built = compiled.build(schema, document, None, None)
    assert not isinstance(built, list)
    analysed = analyse(document, schema._schema)
    return price(schema._schema, executor.policy.cost, analysed, built).requested


def counted(data: dict[str, Any]) -> int:
    """The example query's answer counted by hand: objects 1, connections 2 + what came."""
    total = 1 + 2  # activeBusiness, participants
    for participant in data["activeBusiness"]["participants"]["nodes"]:
        total += 1 + (participant["emailMarketingConsent"] is not None)
        total += 2 + 2 * len(participant["registrations"]["nodes"])
        total += 2 + 2 * len(participant["productPurchases"]["nodes"])
    return total


def test_the_default_limit_is_four_times_the_example_query(world: World) -> None:
    default = Settings.from_environ({"BUSINESS_API_SECRET_KEY": "x" * 32}).max_cost
    assert example_price(world) == 1153
    assert default == 4 * example_price(world) == 4612


async def test_the_example_query_says_what_it_was_priced_at_and_what_it_cost(
    world: World,
) -> None:
    body = (await world.query(EXAMPLE_QUERY)).json()
    assert "errors" not in body
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1153
    assert cost["actualQueryCost"] == counted(body["data"])
    # 25 participants came, but fewer than 10 registrations and purchases each.
    assert cost["actualQueryCost"] < cost["requestedQueryCost"]


async def test_a_page_shorter_than_first_costs_less_than_it_was_priced(world: World) -> None:
    query = "{ activeBusiness { participants(first: 100) { nodes { id } } } }"
    body = (await world.query(query, key="acme", handle="acme")).json()
    assert len(body["data"]["activeBusiness"]["participants"]["nodes"]) == 30
    assert body["extensions"]["cost"] == {"requestedQueryCost": 103, "actualQueryCost": 33}


async def test_a_timed_out_operation_was_priced_and_cost_nothing(world: World) -> None:
    world.services.executor.timeout_seconds = 0.1
    emulator = world.emulator()

    async def slow_contacts(request: Request) -> Response:
        await asyncio.sleep(30)
        return Response(status_code=500)

    original = emulator.app.router.routes
    path = "/contacts/v4/contacts/query"
    emulator.app.router.routes = [Route(path, slow_contacts, methods=["POST"]), *original]
    try:
        body = (await world.query("{ activeBusiness { participants { nodes { id } } } }")).json()
    finally:
        emulator.app.router.routes = original
    assert body["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert body["data"] is None
    assert body["extensions"]["cost"] == {"requestedQueryCost": 28, "actualQueryCost": 0}


async def test_an_operation_that_does_not_run_carries_no_cost(world: World) -> None:
    query = "query($n: Int) { activeBusiness { participants(first: $n) { nodes { id } } } }"
    body = (await world.query(query, {"n": "ten"})).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "data" not in body and "extensions" not in body


async def test_the_operators_endpoint_is_not_priced(world: World) -> None:
    response = await world.client.post(
        "/admin/api/graphql", json={"query": "{ businesses { handle } }"}, headers=ADMIN
    )
    body = response.json()
    assert [b["handle"] for b in body["data"]["businesses"]] == ["tremble", "acme"]
    assert "extensions" not in body
