"""No description a key can see names a field or type outside the key's own slice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import get_introspection_query

from schema.api import Query
from schema.policy import SchemaSlices, load_policy

POLICY_PATH = Path(__file__).resolve().parents[2] / "policies" / "business-api.toml"
INTROSPECTION = get_introspection_query(descriptions=True, specified_by_url=True)
CODE_SPAN = re.compile(r"`([^`]+)`")
# A span written like a selection (`id`, `after: endCursor`, `Type.field`) names things; one
# with quotes, dashes, slashes or the like (`"25.00"`, `/@<handle>`) shows a value.
NAMES_SOMETHING = re.compile(r"[\w\s:.,{}()]*[A-Za-z_][\w\s:.,{}()]*")
NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?")
GRAPHQL_WORDS = {"null", "true", "false", "__typename", "__schema", "__type"}

POLICY = load_policy(POLICY_PATH)
SLICES = SchemaSlices(POLICY, Query)


def _described(schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, description) for every type, field, argument, enum value and directive."""
    for type_ in schema["types"]:
        yield type_["name"], type_["description"]
        for field in type_["fields"] or []:
            yield f"{type_['name']}.{field['name']}", field["description"]
            for argument in field["args"]:
                yield (
                    f"{type_['name']}.{field['name']}({argument['name']})",
                    argument["description"],
                )
        for item in (type_["enumValues"] or []) + (type_["inputFields"] or []):
            yield f"{type_['name']}.{item['name']}", item["description"]
    for directive in schema["directives"]:
        yield f"@{directive['name']}", directive["description"]
        for argument in directive["args"]:
            yield f"@{directive['name']}({argument['name']})", argument["description"]


def _names(schema: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Every plain name in the slice, and every `Type.member` pair."""
    names, members = set(GRAPHQL_WORDS), set()
    for type_ in schema["types"]:
        names.add(type_["name"])
        for field in type_["fields"] or []:
            names.add(field["name"])
            members.add(f"{type_['name']}.{field['name']}")
            names.update(argument["name"] for argument in field["args"])
        for item in (type_["enumValues"] or []) + (type_["inputFields"] or []):
            names.add(item["name"])
            members.add(f"{type_['name']}.{item['name']}")
    for directive in schema["directives"]:
        names.update(argument["name"] for argument in directive["args"])
    return names, members


def _strays(scopes: frozenset[str]) -> list[tuple[str, str]]:
    """(where, name) for each name a description of the key's slice uses that the slice lacks."""
    result = SLICES.for_scopes(scopes).execute_sync(INTROSPECTION)
    assert result.errors is None and result.data is not None
    schema = result.data["__schema"]
    names, members = _names(schema)
    strays = []
    for where, description in _described(schema):
        for span in CODE_SPAN.findall(description or ""):
            if not NAMES_SOMETHING.fullmatch(span):
                continue
            for name in NAME.findall(span):
                known = members if "." in name else names
                if name not in known:
                    strays.append((where, name))
    return strays


def test_a_key_can_be_minted_with_nine_sets_of_scopes_under_the_committed_policy() -> None:
    sets = POLICY.scope_sets()
    assert len(sets) == 9
    assert all("business:read" in scopes for scopes in sets)
    assert frozenset({"business:read", "registrations:read"}) not in sets


@pytest.mark.parametrize("scopes", POLICY.scope_sets(), ids=lambda scopes: "+".join(sorted(scopes)))
def test_no_description_in_a_key_slice_names_what_the_slice_lacks(scopes: frozenset[str]) -> None:
    assert _strays(scopes) == []


def test_values_in_code_spans_are_not_taken_for_names() -> None:
    assert NAME.findall("after: endCursor") == ["after", "endCursor"]
    assert NAME.findall("BusinessParticipant.email") == ["BusinessParticipant.email"]
    for value in ('"25.00"', "2026-06-01T14:32:08.000Z", "/@<handle>/api/graphql"):
        assert not NAMES_SOMETHING.fullmatch(value), value
