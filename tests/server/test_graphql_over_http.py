"""The key endpoint speaks GraphQL over HTTP: media types, status codes and GET requests."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from server.http.responses import negotiate
from tests.server.conftest import World

URL = "/@tremble/api/graphql"
NAME_ONLY = "{ activeBusiness { name } }"
PAGE_OF_N = "query($n: Int!) { activeBusiness { participants(first: $n) { nodes { id } } } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _auth(world: World, accept: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {world.keys['tremble']}"}
    if accept is not None:
        headers["Accept"] = accept
    return headers


async def post(world: World, body: Any, accept: str | None = JSON) -> httpx.Response:
    return await world.client.post(URL, json=body, headers=_auth(world, accept))


async def get(world: World, accept: str | None = JSON, **params: str) -> httpx.Response:
    return await world.client.get(URL, params=params, headers=_auth(world, accept))


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON}", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", JSON),
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.2, {JSON};q=0.9", JSON),
        (f"*/*, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{JSON};q=0, */*", GRAPHQL_RESPONSE),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON; charset=utf-8", GRAPHQL_RESPONSE),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),
        ("text/plain", None),
        (f"{JSON};q=0, {GRAPHQL_RESPONSE};q=0", None),
        (f"{JSON};q=bad", None),
    ],
)
def test_the_response_media_type_follows_the_accept_header_preferences(
    accept: str | None, chosen: str | None
) -> None:
    assert negotiate(accept) == chosen


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE, "*/*"])
async def test_a_query_is_answered_in_the_accepted_media_type_with_utf8(
    world: World, accept: str
) -> None:
    response = await post(world, {"query": NAME_ONLY}, accept=accept)
    assert response.status_code == 200
    expected = GRAPHQL_RESPONSE if accept == GRAPHQL_RESPONSE else JSON
    assert response.headers["content-type"] == f"{expected}; charset=utf-8"
    assert "Accept" in response.headers["vary"]
    assert response.json() == {
        "data": {"activeBusiness": {"name": "Tremble Studios"}},
        "extensions": {"cost": {"requestedQueryCost": 1, "actualQueryCost": 1}},
    }


async def test_a_request_without_an_accept_header_gets_application_json(world: World) -> None:
    request = world.client.build_request("POST", URL, json={"query": NAME_ONLY})
    request.headers.update(_auth(world))
    del request.headers["accept"]
    response = await world.client.send(request)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{JSON}; charset=utf-8"


async def test_an_accept_header_allowing_neither_json_type_is_not_acceptable(
    world: World,
) -> None:
    for response in (
        await post(world, {"query": NAME_ONLY}, accept="text/plain"),
        await get(world, accept="application/xml", query=NAME_ONLY),
    ):
        assert response.status_code == 406, response.text
        assert codes(response) == ["NOT_ACCEPTABLE"]
        assert "data" not in response.json()


async def test_authentication_is_checked_before_the_accept_header(world: World) -> None:
    response = await world.client.post(
        URL, json={"query": NAME_ONLY}, headers={"Accept": "text/plain"}
    )
    assert response.status_code == 401
    assert codes(response) == ["UNAUTHENTICATED"]


REQUEST_ERRORS = {
    "parse failure": ({"query": "{ activeBusiness { "}, "GRAPHQL_PARSE_FAILED"),
    "validation failure": ({"query": "{ activeBusiness { nope } }"}, "GRAPHQL_VALIDATION_FAILED"),
    "variable coercion failure": (
        {"query": PAGE_OF_N, "variables": {"n": "many"}},
        "BAD_USER_INPUT",
    ),
    "unknown operation name": (
        {"query": "query A { __typename }", "operationName": "B"},
        "BAD_USER_INPUT",
    ),
}


@pytest.mark.parametrize("case", REQUEST_ERRORS, ids=list(REQUEST_ERRORS))
async def test_a_request_error_is_400_with_graphql_response_json_and_200_with_json(
    world: World, case: str
) -> None:
    body, code = REQUEST_ERRORS[case]
    strict = await post(world, body, accept=GRAPHQL_RESPONSE)
    legacy = await post(world, body, accept=JSON)
    assert (strict.status_code, legacy.status_code) == (400, 200)
    for response in (strict, legacy):
        assert codes(response) == [code]
        assert "data" not in response.json()


async def test_a_policy_refusal_is_403_with_graphql_response_json_and_200_with_json(
    world: World,
) -> None:
    for query in ("{ activeBusiness { createdAt } }", "mutation { __typename }"):
        strict = await post(world, {"query": query}, accept=GRAPHQL_RESPONSE)
        legacy = await post(world, {"query": query}, accept=JSON)
        assert (strict.status_code, legacy.status_code) == (403, 200)
        for response in (strict, legacy):
            assert codes(response) == ["FORBIDDEN"]
            assert "data" not in response.json()


async def test_an_executed_operation_with_a_field_error_is_200_in_both_media_types(
    world: World,
) -> None:
    query = "{ activeBusiness { participants(first: 0) { nodes { id } } } }"
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = await post(world, {"query": query}, accept=accept)
        assert response.status_code == 200
        assert codes(response) == ["BAD_USER_INPUT"]
        assert response.json()["data"] == {"activeBusiness": None}


@pytest.mark.parametrize(
    "content",
    [
        b'{ "not a JSON',
        b'{"qeury": "{ __typename }"}',
        b'{"query": "{ __typename }", "variables": [7]}',
        b'[{"query": "{ __typename }"}]',
    ],
    ids=["malformed json", "no query", "variables array", "batch"],
)
@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_a_body_that_is_not_a_graphql_request_is_400_in_both_media_types(
    world: World, content: bytes, accept: str
) -> None:
    headers = {**_auth(world, accept), "Content-Type": "application/json"}
    response = await world.client.post(URL, content=content, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == f"{accept}; charset=utf-8"
    assert codes(response) == ["BAD_REQUEST"]


@pytest.mark.parametrize("extensions", [None, {}, {"some": "value"}])
async def test_extensions_may_be_an_object_or_null(world: World, extensions: Any) -> None:
    response = await post(world, {"query": NAME_ONLY, "extensions": extensions})
    assert response.status_code == 200
    assert "errors" not in response.json()


@pytest.mark.parametrize("extensions", ["string", 0, False, ["array"]])
async def test_extensions_of_any_other_shape_are_a_bad_request(
    world: World, extensions: Any
) -> None:
    response = await post(world, {"query": NAME_ONLY, "extensions": extensions})
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/json"]
)
async def test_a_utf8_json_body_is_accepted_whatever_the_case_or_charset_parameter(
    world: World, content_type: str
) -> None:
    content = json.dumps({"query": '{ __type(name: "Run🏃Swim🏊") { name } }'}).encode()
    headers = {**_auth(world, JSON), "Content-Type": content_type}
    response = await world.client.post(URL, content=content, headers=headers)
    assert response.status_code == 200
    assert response.json() == {
        "data": {"__type": None},
        "extensions": {"cost": {"requestedQueryCost": 0, "actualQueryCost": 0}},
    }


async def test_a_body_in_another_charset_is_an_unsupported_media_type(world: World) -> None:
    headers = {**_auth(world, JSON), "Content-Type": "application/json; charset=latin1"}
    response = await world.client.post(URL, content=b'{"query": "{ __typename }"}', headers=headers)
    assert response.status_code == 415
    assert codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]


async def test_a_query_can_be_sent_with_get(world: World) -> None:
    response = await get(world, accept=GRAPHQL_RESPONSE, query=NAME_ONLY)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert response.json() == {
        "data": {"activeBusiness": {"name": "Tremble Studios"}},
        "extensions": {"cost": {"requestedQueryCost": 1, "actualQueryCost": 1}},
    }


async def test_a_get_carries_variables_operation_name_and_extensions_as_json_text(
    world: World,
) -> None:
    response = await get(
        world,
        query="query Other { __typename } "
        "query Type($name: String!) { __type(name: $name) { name } }",
        variables=json.dumps({"name": "Business"}),
        operationName="Type",
        extensions=json.dumps({"some": "value"}),
    )
    assert response.status_code == 200
    assert response.json() == {
        "data": {"__type": {"name": "Business"}},
        "extensions": {"cost": {"requestedQueryCost": 0, "actualQueryCost": 0}},
    }


@pytest.mark.parametrize(
    "params",
    [
        {"query": NAME_ONLY, "variables": "{not json"},
        {"query": NAME_ONLY, "variables": "[1]"},
        {"query": NAME_ONLY, "extensions": "{not json"},
        {"query": NAME_ONLY, "extensions": '"text"'},
        {"variables": "{}"},
    ],
    ids=[
        "variables malformed",
        "variables array",
        "extensions malformed",
        "extensions text",
        "no query",
    ],
)
@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_a_get_with_malformed_parameters_is_a_bad_request(
    world: World, params: dict[str, str], accept: str
) -> None:
    response = await get(world, accept=accept, **params)
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [
        ("mutation { __typename }", ""),
        ('mutation { revokeApiKey(keyId: "x") { keyId } }', ""),
        ("query Q { __typename } mutation M { __typename }", "M"),
        ("subscription { __typename }", ""),
    ],
    ids=["mutation", "internal mutation", "chosen by name", "subscription"],
)
async def test_a_mutation_sent_with_get_is_method_not_allowed_before_the_policy(
    world: World, query: str, operation_name: str
) -> None:
    response = await get(world, query=query, operationName=operation_name)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert codes(response) == ["METHOD_NOT_ALLOWED"]
    assert "data" not in response.json()


async def test_a_get_is_judged_by_the_operation_it_chooses_then_by_the_policy(
    world: World,
) -> None:
    query = "query Q { __typename } mutation M { __typename }"
    response = await get(world, query=query, operationName="Q")
    # Not 405: the chosen operation is a query. The policy still refuses the document,
    # since it holds a mutation.
    assert response.status_code == 200
    assert codes(response) == ["FORBIDDEN"]


async def test_a_get_without_a_key_is_unauthenticated(world: World) -> None:
    response = await world.client.get(URL, params={"query": NAME_ONLY})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_browser_opening_the_endpoint_gets_the_explorer_without_a_key(
    world: World,
) -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = await world.client.get(URL, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_methods_other_than_get_and_post_are_not_allowed(world: World) -> None:
    response = await world.client.delete(URL, headers=_auth(world))
    assert response.status_code == 405
    assert codes(response) == ["METHOD_NOT_ALLOWED"]
