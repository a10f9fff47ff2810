"""Introspection over HTTP shows a key exactly its slice of the graph."""

from __future__ import annotations

from tests.server.conftest import World

TYPE_FIELDS = """query($name: String!) { __type(name: $name) { fields { name } } }"""
ALL_TYPES = "{ __schema { types { name } mutationType { name } } }"


async def _fields(world: World, type_name: str, key: str = "tremble") -> list[str] | None:
    body = (await world.query(TYPE_FIELDS, {"name": type_name}, key=key)).json()
    found = body["data"]["__type"]
    return None if found is None else [f["name"] for f in found["fields"]]


async def test_introspection_lists_only_the_exposed_fields(world: World) -> None:
    assert await _fields(world, "Query") == ["activeBusiness"]
    assert await _fields(world, "Business") == ["id", "name", "participants"]
    assert await _fields(world, "BusinessParticipant") == [
        "id",
        "name",
        "email",
        "emailMarketingConsent",
        "registrations",
        "productPurchases",
    ]
    assert await _fields(world, "PageInfo") == ["hasNextPage", "endCursor"]
    assert await _fields(world, "BusinessParticipantConnection") == ["nodes", "pageInfo"]


async def test_introspection_hides_internal_types_and_mutations(world: World) -> None:
    body = (await world.query(ALL_TYPES)).json()["data"]["__schema"]
    names = {t["name"] for t in body["types"]}
    assert body["mutationType"] is None
    assert not names & {"ApiKey", "ProviderConnection", "Mutation", "CreateApiKeyPayload", "Node"}
    assert not any(name.endswith("Edge") for name in names)
    assert await _fields(world, "ApiKey") is None


async def test_introspection_follows_the_key_scopes(world: World) -> None:
    fields = await _fields(world, "BusinessParticipant", key="tremble-no-email")
    assert fields == ["id", "name", "registrations", "productPurchases"]
    assert await _fields(world, "EmailMarketingConsent", key="tremble-no-email") is None
