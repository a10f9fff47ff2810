"""Each operation limit, just under and just over, over HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from graphql import get_introspection_query
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.server.conftest import World

# Short enough for the timeout test below, long enough for a first (cold) query on a busy
# machine: at 0.5 s one was seen to run out of time while the test suite loaded both cores.
TIMEOUT = 2.0


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    # The token test's document repeats `__typename` hundreds of times: the limit on
    # repeated fields (tested in test_hostile_operations.py) is lifted here.
    return {"execution_timeout_seconds": TIMEOUT, "max_depth": DEPTH, "max_field_repeats": 1000}


# Depth limit for these tests: the deepest public query is seven fields deep, so the limit
# is lowered to six to test it with real queries just under and just over.
DEPTH = 6
AT_DEPTH = "{ activeBusiness { participants { nodes { registrations { nodes { id } } } } } }"
OVER_DEPTH = (
    "{ activeBusiness { participants { nodes { registrations { nodes {"
    " activitySession { id } } } } } } }"
)


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def tokens(count: int) -> str:
    """Exactly `count` tokens: `{ }` around six-token inline fragments, padded with
    `__typename` fields. (Fragments, because graphql-core's validation gives up on
    hundreds of identical sibling fields.)"""
    fragments, padding = divmod(count - 2, 6)
    body = ["... on Query { __typename }"] * fragments + ["__typename"] * padding
    return "{ " + " ".join(body) + " }"


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_a_query_at_the_depth_limit_passes_and_one_deeper_is_refused(
    world: World,
) -> None:
    under = (await world.query(AT_DEPTH)).json()
    assert codes(under) == [] and under["data"]["activeBusiness"]["participants"]["nodes"]
    body = (await world.query(OVER_DEPTH)).json()
    assert codes(body) == ["MAX_DEPTH_EXCEEDED"]
    assert f"the limit is {DEPTH}" in body["errors"][0]["message"]
    assert "data" not in body


async def test_standard_introspection_passes_because_of_type_chains_do_not_count(
    world: World,
) -> None:
    body = (await world.query(get_introspection_query())).json()
    assert codes(body) == []
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def _of_type_chain(levels: int) -> str:
    return "name " + "ofType { name " * levels + "}" * levels


async def test_an_of_type_chain_past_the_standard_querys_nine_is_refused(world: World) -> None:
    """The reported query: fifteen aliases of `__schema`, each with a chain of 17."""
    types = "types { fields { type { " + _of_type_chain(17) + " } } }"
    aliases = " ".join(f"s{i}: __schema {{ {types} }}" for i in range(15))
    body = (await world.query(f"{{ {aliases} }}")).json()
    assert codes(body) == ["MAX_DEPTH_EXCEEDED"] and "data" not in body
    assert "nests `ofType` 17 times; the limit is 9" in body["errors"][0]["message"]
    nine = "{ __schema { types { fields { type { " + _of_type_chain(9) + " } } } } }"
    assert codes((await world.query(nine)).json()) == []
    ten = "{ __schema { types { fields { type { " + _of_type_chain(10) + " } } } } }"
    assert codes((await world.query(ten)).json()) == ["MAX_DEPTH_EXCEEDED"]


async def test_depth_counts_fields_inside_fragments(world: World) -> None:
    query = (
        "query { activeBusiness { participants { nodes { ...P } } } }"
        " fragment P on BusinessParticipant { registrations { nodes { activitySession { id } } } }"
    )
    assert codes((await world.query(query)).json()) == ["MAX_DEPTH_EXCEEDED"]


async def test_15_aliases_pass_and_16_are_refused(world: World) -> None:
    assert codes((await world.query(aliased(15))).json()) == []
    body = (await world.query(aliased(16))).json()
    assert codes(body) == ["MAX_ALIASES_EXCEEDED"]
    assert "the limit is 15" in body["errors"][0]["message"]


async def test_2000_tokens_pass_and_2001_are_refused(world: World) -> None:
    assert codes((await world.query(tokens(2000))).json()) == []
    body = (await world.query(tokens(2001))).json()
    assert codes(body) == ["MAX_TOKENS_EXCEEDED"]
    assert "2000 tokens" in body["errors"][0]["message"]


async def test_a_body_just_under_100_kb_passes_and_just_over_is_413(world: World) -> None:
    def body_of(size: int) -> bytes:
        head, tail = b'{"query": "{ __typename', b' }"}'
        return head + b" " * (size - len(head) - len(tail)) + tail

    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {world.keys['tremble']}",
    }
    under = await world.client.post(
        "/@tremble/api/graphql", content=body_of(100_000), headers=headers
    )
    assert under.status_code == 200 and codes(under.json()) == []
    over = await world.client.post(
        "/@tremble/api/graphql", content=body_of(100_001), headers=headers
    )
    assert over.status_code == 413 and codes(over.json()) == ["PAYLOAD_TOO_LARGE"]
    assert "100000 bytes" in over.json()["errors"][0]["message"]


async def test_one_operation_per_request_a_batch_is_refused(world: World) -> None:
    single = await world.post({"query": "{ __typename }"})
    assert single.status_code == 200
    batch = await world.post([{"query": "{ __typename }"}, {"query": "{ __typename }"}])
    assert batch.status_code == 400 and codes(batch.json()) == ["BAD_REQUEST"]
    assert "one operation per request" in batch.json()["errors"][0]["message"]


async def test_a_slow_operation_times_out_and_its_upstream_calls_are_cancelled(
    world: World,
) -> None:
    emulator = world.emulator()
    # The provider runs on a thread of its own: it signals through threading's events.
    started, hung_up = threading.Event(), threading.Event()

    async def slow_bookings(request: Request) -> Response:
        started.set()
        for _ in range(3000):  # 30 s at most, or until the server hangs up
            if await request.is_disconnected():
                hung_up.set()
                break
            await asyncio.sleep(0.01)
        return Response(status_code=500)

    path = "/_api/bookings-reader/v2/extended-bookings/query"
    original = emulator.app.router.routes
    emulator.app.router.routes = [Route(path, slow_bookings, methods=["POST"]), *original]
    query = (
        "{ activeBusiness { participants(first: 3) { nodes { registrations { nodes { id } } } } } }"
    )
    try:
        began = time.monotonic()
        response = await world.query(query)
        elapsed = time.monotonic() - began
        await asyncio.to_thread(hung_up.wait, 5)
    finally:
        emulator.app.router.routes = original
    assert started.is_set() and hung_up.is_set()  # the call was abandoned, not left running
    assert elapsed < TIMEOUT + 1.5
    body = response.json()
    assert response.status_code == 200
    assert codes(body) == ["TIMEOUT"]
    assert body["data"] is None
    assert f"{TIMEOUT:g} seconds" in body["errors"][0]["message"]


async def test_a_fast_operation_is_not_affected_by_the_timeout(world: World) -> None:
    body = (
        await world.query("{ activeBusiness { participants(first: 3) { nodes { id } } } }")
    ).json()
    assert codes(body) == [] and len(body["data"]["activeBusiness"]["participants"]["nodes"]) == 3
