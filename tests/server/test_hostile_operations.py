"""Operations built to make the server work hard before anything runs: fragments that fan
out, fields repeated hundreds of times. Each is refused quickly, and the server keeps
answering everyone else meanwhile (checked over real sockets against `business-api serve`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.settings import Settings
from tests.live import running_server, store_with_business
from tests.server.conftest import ALL_SCOPES, World

SECRET = "hostile-operations-secret-0123456789"


def fan_out(
    levels: int,
    width: int,
    on: str = "Business",
    leaf: str = "id",
    root: str = "activeBusiness { ...F0 }",
) -> str:
    """`levels` fragments, each spreading the next one `width` times."""
    spreads = [" ".join([f"...F{i + 1}"] * width) for i in range(levels)]
    fragments = [f"fragment F{i} on {on} {{ {s} }}" for i, s in enumerate(spreads)]
    fragments.append(f"fragment F{levels} on {on} {{ {leaf} }}")
    return f"query {{ {root} }} " + " ".join(fragments)


def mixed_fan_out(levels: int) -> str:
    """Spreads hidden in inline fragments, next to aliases."""
    fragments = [
        f"fragment F{i} on Business {{ a{i}: id ...F{i + 1} ... on Business {{ ...F{i + 1} }}"
        f" b{i}: name ... on Business {{ ...F{i + 1} ...F{i + 1} }} }}"
        for i in range(levels)
    ]
    fragments.append(f"fragment F{levels} on Business {{ id name }}")
    return "query { activeBusiness { ...F0 } } " + " ".join(fragments)


def repeated(copies: int) -> str:
    """One connection selected `copies` times: validation compares every pair."""
    field = "participants { nodes { registrations { nodes { id } } } }"
    return "{ activeBusiness { " + " ".join([field] * copies) + " } }"


HOSTILE = {
    "4 spreads, 13 levels (the reported query)": fan_out(12, 4),
    "wider: 16 spreads, 8 levels": fan_out(8, 16),
    "deeper: 2 spreads, 60 levels": fan_out(60, 2),
    "inline fragments and aliases": mixed_fan_out(14),
    "through participants": fan_out(
        12,
        4,
        on="BusinessParticipant",
        leaf="name",
        root="activeBusiness { participants { nodes { ...F0 } } }",
    ),
    "150 copies of one connection": repeated(150),
}


def codes(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_an_operation_over_the_expanded_field_limit_is_refused(world: World) -> None:
    # `activeBusiness` plus 2**9 spreads of a two-field fragment: 1025 fields.
    body = (await world.query(fan_out(9, 2, leaf="id name"))).json()
    assert codes(body) == ["MAX_FIELDS_EXCEEDED"]
    assert body["errors"][0]["extensions"]["limit"] == 1000
    assert "1025 fields" in body["errors"][0]["message"]
    assert "data" not in body
    # 513 fields are under that limit, but `id` lands 256 times in one place.
    body = (await world.query(fan_out(8, 2, leaf="id name"))).json()
    assert codes(body) == ["MAX_FIELDS_EXCEEDED"]
    assert body["errors"][0]["extensions"]["limit"] == 10
    assert "`id` is selected 256 times" in body["errors"][0]["message"]


async def test_a_field_may_be_repeated_ten_times_in_one_place_but_not_eleven(
    world: World,
) -> None:
    assert codes((await world.query(repeated(10))).json()) == []
    body = (await world.query(repeated(11))).json()
    assert codes(body) == ["MAX_FIELDS_EXCEEDED"]
    assert "`participants` is selected 11 times" in body["errors"][0]["message"]


async def test_repeats_count_across_fragments_and_merged_parents(world: World) -> None:
    # Three copies of `participants`, each with three `nodes`, each with two
    # `registrations`: 18 `registrations` merge into one place.
    nodes = "nodes { registrations { nodes { id } } registrations { nodes { id } } }"
    participants = "participants { " + " ".join([nodes] * 3) + " }"
    query = "{ activeBusiness { ...P } } fragment P on Business { " + " ".join([participants] * 3)
    body = (await world.query(query + " }")).json()
    assert codes(body) == ["MAX_FIELDS_EXCEEDED"]
    assert "`registrations` is selected 18 times" in body["errors"][0]["message"]


async def test_the_documents_query_and_introspection_are_within_the_limits(
    world: World,
) -> None:
    from graphql import get_introspection_query

    from tests.server.documents import EXAMPLE_QUERY

    assert codes((await world.query(EXAMPLE_QUERY)).json()) == []
    assert codes((await world.query(get_introspection_query())).json()) == []


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`business-api serve` in its own process, with one business and a key."""
    folder = tmp_path_factory.mktemp("hostile")
    database = f"sqlite+aiosqlite:///{Path(folder) / 'store.db'}"

    key = asyncio.run(store_with_business(database, SECRET, ALL_SCOPES))
    settings = {
        "BUSINESS_API_DATABASE_URL": database,
        "BUSINESS_API_SECRET_KEY": SECRET,
        "BUSINESS_API_KEY_RATE_LIMIT": "100000",
        "BUSINESS_API_BUSINESS_RATE_LIMIT": "100000",
    }
    assert Settings.from_environ(settings)  # the settings themselves are valid
    with running_server(settings) as base_url:
        yield base_url, key


@pytest.mark.parametrize("query", HOSTILE.values(), ids=HOSTILE.keys())
async def test_a_hostile_operation_is_refused_within_a_second_while_healthz_answers(
    live_server: tuple[str, str], query: str
) -> None:
    base_url, key = live_server
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await client.get("/healthz")  # a connection ready for the health checks

        async def hostile() -> tuple[float, httpx.Response]:
            began = time.monotonic()
            response = await client.post(
                "/@tremble/api/graphql",
                json={"query": query},
                headers={"Authorization": f"Bearer {key}"},
            )
            return time.monotonic() - began, response

        sent = asyncio.create_task(hostile())
        health: list[float] = []
        while not sent.done() or len(health) < 5:
            began = time.monotonic()
            assert (await client.get("/healthz")).status_code == 200
            health.append(time.monotonic() - began)
            await asyncio.sleep(0.01)
        elapsed, response = await sent
    assert response.status_code == 200
    assert elapsed < 1.0
    assert codes(response.json())[0] in {
        "MAX_FIELDS_EXCEEDED",
        "MAX_ALIASES_EXCEEDED",
        "MAX_DEPTH_EXCEEDED",
        "MAX_TOKENS_EXCEEDED",
    }
    assert max(health) < 0.1, health
