"""The shape check: exact counts with fragments expanded, each limit at its boundary, and
linear work however the fragments multiply."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from graphql import DocumentNode, SelectionSetNode, Visitor, parse, visit

from schema.engine import analysis, operation_limits
from schema.engine.analysis import Shape, analyse
from schema.engine.operation_limits import OperationLimits, check_shape, most_repeated


def fan_out(levels: int, width: int, leaf: str = "id") -> str:
    fragments = [
        f"fragment F{i} on Business {{ {' '.join([f'...F{i + 1}'] * width)} }}"
        for i in range(levels)
    ]
    fragments.append(f"fragment F{levels} on Business {{ {leaf} }}")
    return "query { activeBusiness { ...F0 } } " + " ".join(fragments)


def selections_in(document: DocumentNode) -> int:
    """The document's size: its fields, fragment spreads and inline fragments as written."""
    count = 0

    class Count(Visitor):
        def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> None:
            nonlocal count
            count += len(node.selections)

    visit(document, Count())
    return count


def count_calls(
    monkeypatch: pytest.MonkeyPatch, owner: object, names: Iterable[str], budget: int
) -> Counter[str]:
    """From now on, count the calls to `owner`'s functions `names` (the steps a walk recurses
    through: a method on its class, a function in its module). A call past `budget` in all
    fails the test where it is made: an expanding walk would otherwise never end."""
    calls: Counter[str] = Counter()
    for name in names:
        original: Callable[..., Any] = getattr(owner, name)

        def counted(
            *args: Any, _original: Callable[..., Any] = original, _name: str = name, **kwargs: Any
        ) -> Any:
            calls[_name] += 1
            if calls.total() > budget:
                raise AssertionError(f"more than {budget} calls ({dict(calls)}): the walk expands")
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
    return calls


def measure(document: DocumentNode) -> Shape:
    return analyse(document).shape


def codes(query: str, **limits: int) -> list[str]:
    return [
        error.extensions["code"]  # type: ignore[index]
        for error in check_shape(analyse(parse(query)), OperationLimits(**limits))
    ]


def test_fields_count_every_spread_where_it_is_used() -> None:
    shape = measure(parse(fan_out(3, 4, leaf="id name")))
    assert shape.fields == 1 + 4**3 * 2
    assert shape.depth == 2


def test_the_field_limit_holds_at_its_boundary() -> None:
    query = fan_out(3, 4, leaf="id name")  # 129 fields, `id` 64 times in one place
    assert codes(query, max_fields=129, max_field_repeats=64) == []
    assert codes(query, max_fields=128, max_field_repeats=64) == ["MAX_FIELDS_EXCEEDED"]
    assert codes(query, max_fields=129, max_field_repeats=63) == ["MAX_FIELDS_EXCEEDED"]


def test_repeats_merge_same_named_fields_and_their_sub_selections() -> None:
    query = """{ activeBusiness {
      participants { nodes { id } nodes { id ... on BusinessParticipant { id } } }
      participants { nodes { ...P } }
    } } fragment P on BusinessParticipant { id name }"""
    assert most_repeated(analyse(parse(query))) == ("id", 4)


def test_aliases_count_where_fragments_are_spread() -> None:
    query = "{ activeBusiness { ...A ...A } } fragment A on Business { a: id b: name }"
    assert measure(parse(query)).aliases == 4
    assert codes(query, max_aliases=4) == []
    assert codes(query, max_aliases=3) == ["MAX_ALIASES_EXCEEDED"]


def test_a_cycle_of_fragments_does_not_loop() -> None:
    query = (
        "{ activeBusiness { ...A } }"
        " fragment A on Business { id ...B } fragment B on Business { ...A }"
    )
    assert measure(parse(query)).fields == 2


@pytest.mark.parametrize("levels", [50, 100])
def test_measuring_is_linear_however_fragments_multiply(
    monkeypatch: pytest.MonkeyPatch, levels: int
) -> None:
    # 8**levels fields once expanded. The work is counted, not timed: the selection sets the
    # analysis visits, and the calls of `most_repeated`'s expansion. Each count is capped (past
    # its cap the walk is stopped with a failure), so a walk that expands fails at once
    # instead of never ending.
    document = parse(fan_out(levels, 8))
    size = selections_in(document)
    assert size == 8 * levels + 3
    walked = count_calls(monkeypatch, analysis._Analyser, ["selection"], budget=size)
    expanded = count_calls(monkeypatch, operation_limits, ["_fields_of"], budget=0)
    analysed = analyse(document)
    assert analysed.shape.fields == 1 + 8**levels
    # Each of the levels + 1 fragments once and the operation's two selection sets: linear
    # in the levels, where 8**levels fields are counted.
    assert walked.total() == levels + 3
    walked.clear()
    errors = check_shape(analysed, OperationLimits())
    assert [e.extensions["code"] for e in errors] == ["MAX_FIELDS_EXCEEDED"]  # type: ignore[index]
    assert walked.total() == 0  # the limits read the analysis: no second walk
    assert expanded.total() == 0  # `most_repeated` expands: never over the field limit
