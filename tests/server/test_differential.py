"""The compiled executor answers exactly as Strawberry's does.

Strawberry's executor is the reference. Every generated operation of the corpus
(`tests/operation_corpus.py`: aliases, repeated fields, named and inline fragments,
`@skip`/`@include` with variables, `__typename`, every pagination argument, cursors of
earlier pages) is sent twice over HTTP: once with the compiled path switched off, once as
the server runs. The two responses must be the same JSON, data, errors and extensions,
once parsed. Then the same again while a provider fails: one relation, the participants
call, a malformed answer, a malformed record.

With one exception, where the GraphQL spec leaves the choice to the executor: when a
non-null field fails and its null propagates to an ancestor, the other fields under that
ancestor may or may not get as far as their own errors (graphql-core cancels them as soon
as one has failed, so which errors are reported depends on timing, even between two runs
of Strawberry's executor). Errors inside such a nulled subtree are therefore compared as
"the subtree at this path was nulled by an error", not one by one.

A plan that drops an alias must make the comparison fail: the last test proves the oracle
can see a broken plan at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import pytest

from schema.engine import compiled
from schema.engine.execution import Executor
from tests import fuzzing
from tests.operation_corpus import DrawnOperation, draw_operations
from tests.server.conftest import World, answered
from tests.server.documents import EXAMPLE_QUERY

pytestmark = pytest.mark.slow

OPERATIONS = int(__import__("os").environ.get("DIFF_N", 2000))
UNDER_FAULT = 150
CONCURRENCY = 8


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    # Limits and breakers keep state across requests; the comparison needs none.
    return {
        "key_rate_limit": 10_000_000,
        "business_rate_limit": 10_000_000,
        "breaker_failures": 1_000_000,
    }


# Set for the reference request of each pair: that request skips the compiled path.
_STRAWBERRY_ONLY: ContextVar[bool] = ContextVar("strawberry_only", default=False)


@dataclasses.dataclass
class Compiled:
    """How many runs the compiled path completed (rather than handing to Strawberry)."""

    runs: int = 0


@pytest.fixture
def compiled_runs(monkeypatch: pytest.MonkeyPatch) -> Compiled:
    counted = Compiled()
    original_run = Executor._run_compiled
    original_plan = compiled.run_plan

    async def run_compiled(self: Executor, *args: Any) -> Any:
        if _STRAWBERRY_ONLY.get():
            return None
        return await original_run(self, *args)

    async def run_plan(*args: Any) -> Any:
        result = await original_plan(*args)
        counted.runs += 1
        return result

    monkeypatch.setattr(Executor, "_run_compiled", run_compiled)
    monkeypatch.setattr(compiled, "run_plan", run_plan)
    return counted


async def _answer(world: World, operation: DrawnOperation, strawberry: bool) -> Any:
    token = _STRAWBERRY_ONLY.set(strawberry)
    try:
        response = await world.post(operation.body())
    finally:
        _STRAWBERRY_ONLY.reset(token)
    return response.status_code, answered(response)  # request ids differ, by design


async def _differences(world: World, operations: Sequence[DrawnOperation]) -> list[str]:
    """Each operation on Strawberry, then compiled; compared at once, so that only the
    differences are kept."""
    semaphore = asyncio.Semaphore(CONCURRENCY)
    differences: list[str] = []

    async def compare(operation: DrawnOperation) -> None:
        async with semaphore:
            expected = await _answer(world, operation, strawberry=True)
            got = await _answer(world, operation, strawberry=False)
        if _canonical(expected) != _canonical(got):
            differences.append(
                f"{operation.query}\nvariables {operation.variables}\n"
                f"strawberry {expected}\ncompiled   {got}"
            )

    await asyncio.gather(*(compare(o) for o in operations))
    return differences


def _nulled_ancestor(data: Any, path: Sequence[str | int]) -> tuple[str | int, ...] | None:
    """The nearest ancestor of `path` that is null in `data` (the error's null went up to
    it), or None when the error's own position holds its null."""
    value = data
    for depth, key in enumerate(path[:-1]):
        if value is None:
            return tuple(path[:depth])
        value = value[key]
    return tuple(path[:-1]) if value is None else None


def _canonical(answer: tuple[int, dict[str, Any]]) -> Any:
    status, body = answer
    errors = []
    for error in body.get("errors", []):
        nulled = _nulled_ancestor(body.get("data"), error.get("path") or [])
        if nulled is None:
            errors.append(json.dumps(error, sort_keys=True))
        else:
            errors.append(json.dumps(["nulled", nulled]))
    rest = {k: v for k, v in body.items() if k != "errors"}
    return status, rest, sorted(set(errors))


async def _corpus(world: World, count: int, seed: int = 0) -> list[DrawnOperation]:
    survey = await fuzzing.survey(world)
    cursors = {
        "Business.participants": survey.cursors["Business.participants"],
        "nested lists": [c for c, page in survey.pages.items() if page is None],
    }
    return draw_operations(survey.schema, cursors, count, seed)


def _report(differences: list[str]) -> str:
    return f"{len(differences)} operations differ; the first:\n" + "\n\n".join(differences[:3])


async def test_generated_operations_answer_alike_on_both_executors(
    world: World, compiled_runs: Compiled
) -> None:
    operations = await _corpus(world, OPERATIONS)
    differences = await _differences(world, operations)
    assert not differences, _report(differences)
    # The comparison means something only if most operations ran compiled.
    assert compiled_runs.runs >= 0.6 * len(operations), compiled_runs


def _spoil_a_record(world: World) -> None:
    """A booking of one of the first participants gets a number for its status: the page
    it comes in no longer has the documented type."""
    dataset = world.emulator().dataset
    first = {contact["id"] for contact in dataset.contacts[:10]}
    booking = next(b for b in dataset.bookings if b["contactDetails"]["contactId"] in first)
    booking["status"] = 7


FAULTS: dict[str, Callable[[World], None]] = {
    "one relation fails": lambda w: _set(w, status=500, endpoints={"bookings.query"}),
    "the participants call fails": lambda w: _set(w, status=500, endpoints={"contacts.query"}),
    "an answer is not JSON": lambda w: _set(w, malformed_json=True, endpoints={"orders.search"}),
    "a record is malformed": _spoil_a_record,
}


def _set(world: World, **faults: Any) -> None:
    emulator = world.emulator()
    faults["endpoints"] = frozenset(faults.get("endpoints", ()))
    emulator.faults = dataclasses.replace(emulator.faults, **faults)


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_operations_answer_alike_while_a_provider_fails(
    world: World, compiled_runs: Compiled, fault: str
) -> None:
    operations = await _corpus(world, UNDER_FAULT, seed=1)
    FAULTS[fault](world)
    differences = await _differences(world, operations)
    assert not differences, _report(differences)
    assert compiled_runs.runs > 0
    # The document's query reads every endpoint: the fault is met, not avoided.
    _, body = await _answer(world, DrawnOperation(EXAMPLE_QUERY, {}), strawberry=False)
    codes = {error.get("extensions", {}).get("code") for error in body.get("errors", [])}
    assert "UPSTREAM_UNAVAILABLE" in codes


async def test_a_plan_that_drops_an_alias_is_caught(
    world: World, compiled_runs: Compiled, monkeypatch: pytest.MonkeyPatch
) -> None:
    operations = await _corpus(world, 200, seed=2)
    original = compiled._Compiler.field

    def forgetting_aliases(self: Any, parent: Any, key: str, fields: Any) -> Any:
        return original(self, parent, fields[0].node.name.value, fields)

    monkeypatch.setattr(compiled._Compiler, "field", forgetting_aliases)
    assert await _differences(world, operations)
