"""Schema-aware fuzzing over HTTP: operations generated from the slice the key introspects.

How the operations are generated, and why Hypothesis draws them all (derandomized, in a
synchronous `@given`) before the first is sent on the async `world` fixture's event loop, is
in `tests/fuzzing.py`, which `benchmarks/fuzz.py` shares to run the same fuzzing for longer.

Every answer must be under 500, JSON, with only codes from the closed list (and none a
healthy provider cannot explain), and carry no stack trace, exception repr, provider error
text, credential or other business's ID. A share of the operations must reach the provider,
so the test cannot pass on errors alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import fuzzing
from tests.server.conftest import World
from tests.server.documents import PARTICIPANT_PAGE

OPERATIONS = 1_000
CURSOR_MUTATIONS = 200
CONCURRENCY = 4
WIX_CREDENTIALS = ("wix-key-t", "wix-key-a")


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"key_rate_limit": 10_000_000, "business_rate_limit": 10_000_000}


def _forbidden(world: World, survey: fuzzing.Survey) -> list[str]:
    settings = world.services.settings
    return fuzzing.forbidden_text(settings, world.keys.values(), WIX_CREDENTIALS, survey)


@pytest.mark.slow
async def test_generated_operations_never_fail_on_the_server_or_leak(world: World) -> None:
    survey = await fuzzing.survey(world)
    strategy = fuzzing.operations(survey.schema, survey.cursors)
    operations = fuzzing.draw_examples(strategy, OPERATIONS)
    assert len(operations) >= OPERATIONS

    tally = await fuzzing.run(
        operations,
        lambda operation: world.post(operation.body()),
        forbidden=_forbidden(world, survey),
        concurrency=CONCURRENCY,
    )

    assert not tally.violations, tally.report()
    assert tally.sent == len(operations)
    assert tally.kinds[fuzzing.VALID_PAGES] >= len(operations) / 2, tally.kinds
    assert tally.reached >= 0.2 * len(operations), (tally.reached, tally.codes)
    assert set(tally.codes) >= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}, tally.codes


async def test_mutated_cursors_are_refused_or_give_the_genuine_page(world: World) -> None:
    survey = await fuzzing.survey(world)
    drawn = fuzzing.draw_examples(fuzzing.mutated_cursors(list(survey.pages)), CURSOR_MUTATIONS)
    operations = [
        fuzzing.Operation(PARTICIPANT_PAGE, "mutated cursor", {"after": cursor}, origin)
        for origin, cursor in drawn
    ]
    assert len(operations) >= CURSOR_MUTATIONS

    tally = await fuzzing.run(
        operations,
        lambda operation: world.post(operation.body()),
        forbidden=_forbidden(world, survey),
        concurrency=CONCURRENCY,
        also=fuzzing.cursor_check(survey.pages),
    )

    assert not tally.violations, tally.report()
    assert tally.statuses == {200: len(operations)}
    assert set(tally.codes) <= {"BAD_USER_INPUT"}
