"""The operator's endpoint reaches the whole graph, mutations included."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import World

ADMIN = {"Authorization": "Bearer admin-token-for-tests-0123456789abcdef"}
BUSINESSES = (
    "{ businesses { id handle name connections { id provider } apiKeys { keyId scopes } } }"
)
CREATE_KEY = """mutation($business: ID!) {
  createApiKey(businessId: $business, name: "from admin", scopes: ["business:read"]) {
    key apiKey { keyId scopes revokedAt } } }"""


async def _admin(
    world: World,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    response = await world.client.post(
        "/admin/api/graphql",
        json={"query": query, "variables": variables},
        headers=ADMIN if headers is None else headers,
    )
    return response


async def test_the_admin_endpoint_needs_the_admin_token(world: World) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {world.keys['tremble']}"},
    ):
        response = await _admin(world, BUSINESSES, headers=headers)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_operator_lists_businesses_with_internal_fields(world: World) -> None:
    body = (await _admin(world, BUSINESSES)).json()
    businesses = body["data"]["businesses"]
    assert [b["handle"] for b in businesses] == ["tremble", "acme"]
    assert businesses[0]["connections"][0]["provider"] == "wix"
    assert len(businesses[0]["apiKeys"]) == 2


async def test_the_operator_mints_a_key_that_works_and_revokes_it(world: World) -> None:
    business = (await _admin(world, BUSINESSES)).json()["data"]["businesses"][0]["id"]
    created = (await _admin(world, CREATE_KEY, {"business": business})).json()
    key = created["data"]["createApiKey"]["key"]
    assert created["data"]["createApiKey"]["apiKey"]["scopes"] == ["business:read"]
    response = await world.query("{ activeBusiness { name } }", key=key)
    assert response.json()["data"] == {"activeBusiness": {"name": "Tremble Studios"}}

    key_id = created["data"]["createApiKey"]["apiKey"]["keyId"]
    revoked = (
        await _admin(
            world, "mutation($k: String!) { revokeApiKey(keyId: $k) { revokedAt } }", {"k": key_id}
        )
    ).json()
    assert revoked["data"]["revokeApiKey"]["revokedAt"]
    assert (await world.query("{ activeBusiness { name } }", key=key)).status_code == 401


async def test_minting_a_key_with_an_unknown_scope_is_bad_user_input(world: World) -> None:
    business = (await _admin(world, BUSINESSES)).json()["data"]["businesses"][0]["id"]
    query = CREATE_KEY.replace('["business:read"]', '["business:read", "everything:write"]')
    body = (await _admin(world, query, {"business": business})).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_key_minted_by_the_operator_gets_business_read_without_asking(
    world: World,
) -> None:
    business = (await _admin(world, BUSINESSES)).json()["data"]["businesses"][0]["id"]
    query = CREATE_KEY.replace('["business:read"]', '["participants:read"]')
    created = (await _admin(world, query, {"business": business})).json()["data"]["createApiKey"]
    assert created["apiKey"]["scopes"] == ["business:read", "participants:read"]
    body = (
        await world.query(
            "{ activeBusiness { name participants(first: 1) { nodes { name } } } }",
            key=created["key"],
        )
    ).json()
    assert "errors" not in body, body
    assert body["data"]["activeBusiness"]["name"] == "Tremble Studios"


async def test_minting_a_key_without_a_scope_prerequisite_is_refused_naming_it(
    world: World,
) -> None:
    business = (await _admin(world, BUSINESSES)).json()["data"]["businesses"][0]["id"]
    query = CREATE_KEY.replace('["business:read"]', '["business:read", "registrations:read"]')
    body = (await _admin(world, query, {"business": business})).json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        "`registrations:read` needs `participants:read`: add it, or the key can read none of "
        "the fields `registrations:read` grants."
    )
    keys = (await _admin(world, BUSINESSES)).json()["data"]["businesses"][0]["apiKeys"]
    assert len(keys) == 2  # the two the world started with: nothing was minted


async def test_the_operator_reads_internal_fields_and_fetches_nodes(world: World) -> None:
    query = """{ businesses { participants(first: 2) { edges { cursor node { id phone sources
      registrations(first: 1) { nodes { activitySession { id title startsAt provider } } }
    } } } } }"""
    body = (await _admin(world, query)).json()
    assert "errors" not in body, body
    edge = body["data"]["businesses"][0]["participants"]["edges"][0]
    assert edge["node"]["sources"] == ["wix"]
    session = edge["node"]["registrations"]["nodes"][0]["activitySession"]
    assert session["title"] and session["startsAt"].endswith("Z") and session["provider"] == "wix"

    node_query = (
        """query($id: ID!) { node(id: $id) { __typename ... on BusinessParticipant { id } } }"""
    )
    fetched = (await _admin(world, node_query, {"id": edge["node"]["id"]})).json()
    assert fetched["data"]["node"] == {
        "__typename": "BusinessParticipant",
        "id": edge["node"]["id"],
    }


async def test_five_participants_by_id_cost_one_provider_call(world: World) -> None:
    page = await world.query("{ activeBusiness { participants(first: 5) { nodes { id } } } }")
    ids = [n["id"] for n in page.json()["data"]["activeBusiness"]["participants"]["nodes"]]
    world.reset_counts()
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on BusinessParticipant { id name } } }"
    body = (await _admin(world, query, {"ids": ids})).json()
    assert "errors" not in body, body
    assert [n["id"] for n in body["data"]["nodes"]] == ids
    assert world.upstream_calls() == {"contacts.query": 1}


async def test_connecting_a_provider_checks_its_url_and_account_id(world: World) -> None:
    business = (await _admin(world, BUSINESSES)).json()["data"]["businesses"][0]["id"]
    mutation = """mutation($b: ID!, $url: String!, $account: String!) {
      connectProvider(businessId: $b, provider: "wix", baseUrl: $url, accountId: $account,
        credential: "k") { id provider } }"""
    for url, account, message in [
        ("not-a-url", "site-1", "`baseUrl` must be an http(s) URL"),
        ("https://www.wixapis.com", "no spaces!", "`accountId` must be a Wix site id"),
    ]:
        body = await _admin(world, mutation, {"b": business, "url": url, "account": account})
        [error] = body.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert message in error["message"]
    body = (
        await _admin(
            world, mutation, {"b": business, "url": "https://www.wixapis.com", "account": "s-2"}
        )
    ).json()
    assert body["data"]["connectProvider"]["provider"] == "wix"
