"""The reference is generated from the policy and agrees with what enforcement allows."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLObjectType, GraphQLSchema, get_named_type

from schema.errors import ErrorCode
from schema.policy.reference import ERROR_MEANINGS, Reference
from server.reference import FILES, write_reference
from server.services import load_graph, policy_reference
from server.settings import Settings
from tests.server.conftest import ALL_SCOPES, World

COMMITTED = Path(__file__).resolve().parents[2] / "policies" / "reference"
SETTINGS = Settings.from_environ({}, secret_key="reference-tests-secret")


@pytest.fixture
def setting_overrides() -> dict[str, int]:
    """A query per field of the graph: more than a key's default minute allows."""
    return {"key_rate_limit": 100_000, "business_rate_limit": 100_000}


def _reference() -> tuple[Reference, GraphQLSchema]:
    graph = load_graph(SETTINGS.policy_path)
    return policy_reference(graph.policy, graph.slices), graph.internal._schema


def test_the_reference_lists_exactly_the_fields_the_policy_exposes() -> None:
    graph = load_graph(SETTINGS.policy_path)
    assert policy_reference(graph.policy, graph.slices).fields() == graph.policy.fields


def test_every_listed_type_field_argument_and_value_has_a_description() -> None:
    reference, _ = _reference()
    missing = [t.name for t in reference.types if not t.description.strip()]
    for type_doc in reference.types:
        missing += [f"{type_doc.name}.{f.name}" for f in type_doc.fields if not f.description]
        missing += [
            f"{type_doc.name}.{f.name}({a.name})"
            for f in type_doc.fields
            for a in f.arguments
            if not a.description
        ]
        missing += [f"{type_doc.name}.{v}" for v, meaning in type_doc.values if not meaning]
    assert missing == []


def test_every_error_code_is_explained() -> None:
    assert set(ERROR_MEANINGS) == {code.value for code in ErrorCode}


def test_the_committed_reference_matches_the_policy(tmp_path: Path) -> None:
    write_reference(SETTINGS, tmp_path)
    for name in FILES:
        fresh = (tmp_path / name).read_text(encoding="utf-8")
        committed = (COMMITTED / name).read_text(encoding="utf-8")
        assert committed == fresh, f"{name} is stale: run `business-api docs build`"


def test_the_public_sdl_holds_only_the_exposed_slice() -> None:
    sdl = (COMMITTED / "schema.graphql").read_text(encoding="utf-8")
    assert "activeBusiness: Business" in sdl
    for hidden in ("phone", "apiKeys", "businesses", "type Mutation", "edges", "createdAt"):
        assert hidden not in sdl


async def test_the_reference_page_is_served_for_any_handle_without_a_key(world: World) -> None:
    page = await world.client.get("/@tremble/api/reference")
    other = await world.client.get("/@no-such-business/api/reference")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == other.text
    assert "<script" not in page.text and "http://" not in page.text.replace(
        "http://testserver", ""
    )
    assert 'id="BusinessParticipant.email"' in page.text
    assert "participants.email:read" in page.text


def _path_to(schema: GraphQLSchema, target: str) -> list[str] | None:
    """Field names from Query to a type, breadth-first (the shortest selection reaching it)."""
    assert schema.query_type is not None
    paths: dict[str, list[str]] = {schema.query_type.name: []}
    queue = [schema.query_type]
    while queue:
        current = queue.pop(0)
        if current.name == target:
            return paths[current.name]
        for name, field in current.fields.items():
            named = get_named_type(field.type)
            if isinstance(named, GraphQLObjectType) and named.name not in paths:
                paths[named.name] = [*paths[current.name], name]
                queue.append(named)
    return None


def _selecting(schema: GraphQLSchema, type_name: str, field_name: str) -> str:
    path = _path_to(schema, type_name)
    assert path is not None, type_name
    field = schema.type_map[type_name].fields[field_name]  # type: ignore[union-attr]
    leaf = field_name
    if isinstance(get_named_type(field.type), GraphQLObjectType):
        leaf += " { __typename }"
    query = leaf
    for step in reversed(path):
        query = f"{step} {{ {query} }}"
    return "{ " + query + " }"


async def _key(world: World, scopes: list[str]) -> str:
    _, key = await world.services.store.create_api_key(
        world.business_ids["tremble"], name="scoped", scopes=scopes
    )
    return key


@pytest.mark.parametrize("missing_scope", [s for s in ALL_SCOPES if s != "business:read"])
async def test_a_listed_field_is_readable_with_its_scope_and_forbidden_without(
    world: World, missing_scope: str
) -> None:
    reference, internal = _reference()
    full, without = (
        await _key(world, ALL_SCOPES),
        await _key(world, [s for s in ALL_SCOPES if s != missing_scope]),
    )
    for (type_name, field_name), scope in reference.fields().items():
        query = _selecting(internal, type_name, field_name)
        allowed = (await world.query(query, key=full)).json()
        assert "errors" not in allowed, (query, allowed)
        if scope == missing_scope:
            refused = (await world.query(query, key=without)).json()
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", query
            assert refused["errors"][0]["extensions"]["requiredScope"] == missing_scope


async def test_every_field_absent_from_the_reference_is_forbidden(world: World) -> None:
    reference, internal = _reference()
    listed = reference.fields()
    checked = 0
    for type_name, graphql_type in internal.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        if type_name == "Mutation":
            continue  # mutations: tests/server/test_errors.py
        if _path_to(internal, type_name) is None:
            continue
        for field_name in graphql_type.fields:
            if (type_name, field_name) in listed:
                continue
            query = _selecting(internal, type_name, field_name)
            body = (await world.query(query)).json()
            assert "data" not in body, query
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (query, body)
            checked += 1
    assert checked >= 20
