"""Every error a client can meet, over HTTP: its status code and its `extensions.code`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.server.conftest import ALL_SCOPES, World, answered
from tests.server.documents import PARTICIPANT_PAGE

NAME_ONLY = "{ activeBusiness { name } }"


def only_code(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    return body


def assert_unauthenticated(response) -> None:  # type: ignore[no-untyped-def]
    body = only_code(response, 401, "UNAUTHENTICATED")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "data" not in body


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-key",
        "Bearer sk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer " + "sk_" + "a" * 5000,
    ],
    ids=["missing", "empty", "no token", "basic", "malformed", "unknown", "huge"],
)
async def test_a_missing_malformed_or_unknown_key_is_unauthenticated(
    world: World, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await world.client.post(
        "/@tremble/api/graphql", json={"query": NAME_ONLY}, headers=headers
    )
    assert_unauthenticated(response)


async def test_a_wrong_secret_for_a_real_key_id_is_unauthenticated(world: World) -> None:
    key = world.keys["tremble"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert_unauthenticated(await world.query(NAME_ONLY, key=tampered))


async def test_a_revoked_key_is_unauthenticated(world: World) -> None:
    await world.services.watcher.check()
    assert (await world.query(NAME_ONLY)).status_code == 200
    key_id = world.keys["tremble"].split("_")[1]
    # Revoked in the store (as another process would); the watcher's next look sees it.
    await world.services.store.revoke_api_key(key_id, now=datetime.now(UTC))
    assert await world.services.watcher.check()
    assert_unauthenticated(await world.query(NAME_ONLY))


async def test_an_expired_key_is_unauthenticated(world: World) -> None:
    store = world.services.store
    _, key = await store.create_api_key(
        world.business_ids["tremble"],
        name="short",
        scopes=ALL_SCOPES,
        expires_at=datetime.now(UTC) + timedelta(milliseconds=1),
    )
    import asyncio

    await asyncio.sleep(0.01)
    assert_unauthenticated(await world.query(NAME_ONLY, key=key))


async def test_a_key_used_on_another_business_handle_is_refused_like_an_unknown_key(
    world: World,
) -> None:
    other = await world.query(NAME_ONLY, key="tremble", handle="acme")
    unknown_handle = await world.query(NAME_ONLY, key="tremble", handle="nobody")
    unknown_key = await world.query(NAME_ONLY, key="sk_000000000000_x", handle="acme")
    for response in (other, unknown_handle, unknown_key):
        assert_unauthenticated(response)
    assert answered(other) == answered(unknown_key) == answered(unknown_handle)


async def test_an_internal_field_is_forbidden_and_nothing_executes(world: World) -> None:
    world.reset_counts()
    response = await world.query("{ activeBusiness { name participants { nodes { id phone } } } }")
    body = only_code(response, 200, "FORBIDDEN")
    assert "data" not in body
    error = body["errors"][0]
    assert error["path"] == ["activeBusiness", "participants", "nodes", "phone"]
    assert error["extensions"]["reason"] == "NOT_EXPOSED"
    assert error["extensions"]["requiredScope"] is None
    assert error["extensions"]["documentation"].endswith("/@tremble/api/reference")
    assert world.emulator().total_requests == 0


async def test_each_offending_field_gets_one_error(world: World) -> None:
    response = await world.query(
        "{ businesses { id } activeBusiness { createdAt apiKeys { keyId }"
        " participants { nodes { phone sources } } } }"
    )
    body = response.json()
    paths = sorted(tuple(e["path"]) for e in body["errors"])
    assert paths == sorted(
        [
            ("businesses",),
            ("activeBusiness", "createdAt"),
            ("activeBusiness", "apiKeys"),
            ("activeBusiness", "participants", "nodes", "phone"),
            ("activeBusiness", "participants", "nodes", "sources"),
        ]
    )
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}


async def test_a_field_without_the_key_scope_is_forbidden_with_the_scope_it_needs(
    world: World,
) -> None:
    response = await world.query(
        "{ activeBusiness { participants { nodes { email } } } }", key="tremble-no-email"
    )
    body = only_code(response, 200, "FORBIDDEN")
    assert body["errors"][0]["extensions"]["reason"] == "MISSING_SCOPE"
    assert body["errors"][0]["extensions"]["requiredScope"] == "participants.email:read"
    names = await world.query(
        "{ activeBusiness { participants(first: 1) { nodes { name } } } }", key="tremble-no-email"
    )
    assert "errors" not in names.json()


@pytest.mark.parametrize(
    "mutation",
    [
        'mutation { revokeApiKey(keyId: "x") { keyId } }',
        'mutation { createApiKey(businessId: "x", name: "n", scopes: []) { key } }',
        "mutation { __typename }",
    ],
)
async def test_every_mutation_is_forbidden(world: World, mutation: str) -> None:
    body = only_code(await world.query(mutation), 200, "FORBIDDEN")
    assert "data" not in body
    assert body["errors"][0]["extensions"]["reason"] == "NOT_EXPOSED"


async def test_an_internal_field_smuggled_in_fragments_is_forbidden(world: World) -> None:
    named = """
    query { activeBusiness { ...B } }
    fragment B on Business { name participants { nodes { ...P } } }
    fragment P on BusinessParticipant { id secret: phone }"""
    inline = "{ activeBusiness { ... on Business { createdAt } } }"
    body = only_code(await world.query(named), 200, "FORBIDDEN")
    assert body["errors"][0]["path"] == ["activeBusiness", "participants", "nodes", "secret"]
    body = only_code(await world.query(inline), 200, "FORBIDDEN")
    assert body["errors"][0]["path"] == ["activeBusiness", "createdAt"]


async def test_an_unknown_field_is_a_validation_error_that_names_no_hidden_field(
    world: World,
) -> None:
    body = only_code(
        await world.query("{ activeBusiness { participants { nodes { phon } } } }"),
        200,
        "GRAPHQL_VALIDATION_FAILED",
    )
    assert "phone" not in body["errors"][0]["message"]
    assert "data" not in body


async def test_a_syntax_error_is_a_parse_failure(world: World) -> None:
    only_code(await world.query("{ activeBusiness { "), 200, "GRAPHQL_PARSE_FAILED")


@pytest.mark.parametrize("first", [0, -1, 101, 1000])
async def test_first_outside_1_to_100_is_bad_user_input_not_clamped(
    world: World, first: int
) -> None:
    query = "query($n: Int) { activeBusiness { participants(first: $n) { nodes { id } } } }"
    body = (await world.query(query, {"n": first})).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["data"] == {"activeBusiness": None}
    assert "between 1 and 100" in body["errors"][0]["message"]


async def test_first_on_a_nested_connection_is_checked_too(world: World) -> None:
    query = """{ activeBusiness { participants(first: 1) { nodes {
      registrations(first: 101) { nodes { id } } } } } }"""
    body = (await world.query(query)).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def _end_cursor(world: World, key: str = "tremble", handle: str = "tremble") -> str:
    body = (await world.query(PARTICIPANT_PAGE, key=key, handle=handle)).json()
    return str(body["data"]["activeBusiness"]["participants"]["pageInfo"]["endCursor"])


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),
        lambda c: "x" + c[1:],
        lambda c: c.split(".")[0],
        lambda c: "not a cursor",
        lambda c: "",
        lambda c: "a" * 5000,
    ],
    ids=["signature", "payload", "unsigned", "garbage", "empty", "huge"],
)
async def test_a_tampered_cursor_is_bad_user_input(world: World, tamper) -> None:  # type: ignore[no-untyped-def]
    cursor = tamper(await _end_cursor(world))
    body = (await world.query(PARTICIPANT_PAGE, {"after": cursor})).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["data"] == {"activeBusiness": None}


async def test_another_business_cursor_is_bad_user_input(world: World) -> None:
    foreign = await _end_cursor(world, key="acme", handle="acme")
    body = (await world.query(PARTICIPANT_PAGE, {"after": foreign})).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["data"] == {"activeBusiness": None}


async def test_a_cursor_from_another_connection_is_bad_user_input(world: World) -> None:
    query = """{ activeBusiness { participants(first: 1) { nodes {
      registrations(first: 1) { pageInfo { endCursor } } } } } }"""
    body = (await world.query(query)).json()
    nodes = body["data"]["activeBusiness"]["participants"]["nodes"]
    registration_cursor = nodes[0]["registrations"]["pageInfo"]["endCursor"]
    assert registration_cursor
    body = (await world.query(PARTICIPANT_PAGE, {"after": registration_cursor})).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_a_wrongly_typed_variable_is_bad_user_input(world: World) -> None:
    body = (await world.query(PARTICIPANT_PAGE, {"after": 5})).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert "data" not in body


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "BAD_REQUEST"),
        (b"", "application/json", 400, "BAD_REQUEST"),
        (b"[]", "application/json", 400, "BAD_REQUEST"),
        (b'[{"query": "{ __typename }"}]', "application/json", 400, "BAD_REQUEST"),
        (b'"query"', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": 5}', "application/json", 400, "BAD_REQUEST"),
        (b'{"variables": {}}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "variables": []}', "application/json", 400, "BAD_REQUEST"),
        (
            b'{"query": "{ __typename }", "operationName": 1}',
            "application/json",
            400,
            "BAD_REQUEST",
        ),
        (b"\xff\xfe", "application/json", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"query": "{ __typename \xff }"}', "application/json", 400, "BAD_REQUEST"),
        (b"query=x", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"query": "{ __typename }"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (
            b'{"query": "' + b" " * 200_000 + b'{ __typename }"}',
            "application/json",
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ],
    ids=[
        "malformed",
        "empty",
        "empty array",
        "batch",
        "string",
        "query not string",
        "no query",
        "variables array",
        "operation name number",
        "utf-16 byte order mark",
        "not utf-8",
        "form",
        "text",
        "oversized",
    ],
)
async def test_a_malformed_body_is_a_clear_4xx(
    world: World, content: bytes, content_type: str, status: int, code: str
) -> None:
    response = await world.client.post(
        "/@tremble/api/graphql",
        content=content,
        headers={"Content-Type": content_type, "Authorization": f"Bearer {world.keys['tremble']}"},
    )
    body = only_code(response, status, code)
    assert "data" not in body


async def test_a_body_larger_than_it_claims_is_cut_off(world: World) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(30):
            yield b" " * 10_000

    response = await world.client.post(
        "/@tremble/api/graphql",
        content=chunks(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {world.keys['tremble']}",
        },
    )
    only_code(response, 413, "PAYLOAD_TOO_LARGE")


async def test_unknown_paths_and_methods_answer_with_a_code(world: World) -> None:
    only_code(await world.client.get("/nowhere"), 404, "NOT_FOUND")
    response = await world.client.put("/@tremble/api/graphql")
    only_code(response, 405, "METHOD_NOT_ALLOWED")
