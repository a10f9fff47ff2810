"""Operations built to make the server work hard before anything runs: fragments that fan
out, fields repeated hundreds of times. Each is refused, after work that is linear in the
document (counted in `tests/schema`), done in a worker thread: the event loop keeps serving
everyone else meanwhile (its own lag is measured while the operation is answered).
"""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any

import pytest

from schema.engine import execution
from tests.loop_lag import LoopLag
from tests.server.conftest import World


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


@pytest.mark.parametrize("query", HOSTILE.values(), ids=HOSTILE.keys())
async def test_a_hostile_operation_is_refused_without_holding_the_event_loop(
    world: World, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    loop_thread = threading.get_ident()
    measured_on: list[int] = []  # the thread each of the document's checks ran on
    for name in ("check_tokens", "check_shape"):
        original = getattr(execution, name)

        def on_its_thread(*args: Any, _original: Any = original) -> Any:
            measured_on.append(threading.get_ident())
            return _original(*args)

        monkeypatch.setattr(execution, name, on_its_thread)
    # As `serve` does at start (server/serving.py: settle_heap), the heap built so far is
    # taken out of the collector's sight: otherwise a full collection over everything the
    # test session built, started by any allocation, would be measured as the loop's lag.
    gc.collect()
    gc.freeze()
    try:
        async with LoopLag() as lag:
            response = await asyncio.wait_for(world.query(query), timeout=30)
    finally:
        gc.unfreeze()
    assert response.status_code == 200
    assert codes(response.json())[0] in {
        "MAX_FIELDS_EXCEEDED",
        "MAX_ALIASES_EXCEEDED",
        "MAX_DEPTH_EXCEEDED",
        "MAX_TOKENS_EXCEEDED",
    }
    # The document was counted and measured in a worker thread, never on the event loop's
    # (in process the work is milliseconds, too little for the lag to tell where it ran)…
    assert measured_on and loop_thread not in measured_on
    # …and the loop was never held meanwhile: each tick ran within 0.25 s of when it was due.
    assert lag.worst < 0.25, lag.worst
