"""The shape check: exact counts with fragments expanded, each limit at its boundary, and
linear time however the fragments multiply."""

from __future__ import annotations

import time

from graphql import parse

from schema.operation_limits import OperationLimits, check_shape, measure, most_repeated


def fan_out(levels: int, width: int, leaf: str = "id") -> str:
    fragments = [
        f"fragment F{i} on Business {{ {' '.join([f'...F{i + 1}'] * width)} }}"
        for i in range(levels)
    ]
    fragments.append(f"fragment F{levels} on Business {{ {leaf} }}")
    return "query { activeBusiness { ...F0 } } " + " ".join(fragments)


def codes(query: str, **limits: int) -> list[str]:
    return [
        error.extensions["code"]  # type: ignore[index]
        for error in check_shape(parse(query), OperationLimits(**limits))
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
    assert most_repeated(parse(query)) == ("id", 4)


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


def test_measuring_is_linear_however_fragments_multiply() -> None:
    document = parse(fan_out(200, 8))  # 8**200 fields once expanded
    began = time.perf_counter()
    shape = measure(document)
    errors = check_shape(document, OperationLimits())
    elapsed = time.perf_counter() - began
    assert shape.fields == 1 + 8**200
    assert [e.extensions["code"] for e in errors] == ["MAX_FIELDS_EXCEEDED"]  # type: ignore[index]
    assert elapsed < 0.5  # an expanding walk would never end; a loaded machine may pause
