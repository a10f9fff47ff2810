"""Hostile request bodies and headers: each gets a clear 4xx with a code from the closed
list, never a 500, and nothing is logged as a traceback."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.routing import Route

from server.cli import main
from tests.server.conftest import World, answered

NAME = "{ activeBusiness { name } }"


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture):  # type: ignore[no-untyped-def]
    """Every test here must leave no traceback in the logs."""
    caplog.set_level(logging.INFO)
    yield
    logged = [r for r in caplog.records if r.exc_info and not getattr(r, "expected", False)]
    assert logged == [], [r.getMessage() for r in logged]


async def post_raw(world: World, content: bytes, **headers: str) -> Any:
    sent = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {world.keys['tremble']}",
        **headers,
    }
    return await world.client.post("/@tremble/api/graphql", content=content, headers=sent)


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == code
    assert "data" not in body
    return error  # type: ignore[no-any-return]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 49_000,
        ('{"query": "' + NAME + '", "variables": {"a": ' + nested(30_000) + "}}").encode(),
        ('{"query": "' + NAME + '", "extensions": {"a": ' + nested(30_000) + "}}").encode(),
    ],
    ids=["49,000 brackets", "variables 30,000 deep", "extensions 30,000 deep"],
)
async def test_deeply_nested_json_is_a_bad_request(world: World, content: bytes) -> None:
    error = error_of(await post_raw(world, content), 400, "BAD_REQUEST")
    assert "1,024 levels" in error["message"] or "not valid JSON" in error["message"]


async def test_deeply_nested_get_variables_are_a_bad_request(world: World) -> None:
    response = await world.client.get(
        "/@tremble/api/graphql",
        params={"query": NAME, "variables": '{"a": ' + nested(2_500) + "}"},
        headers={"Authorization": f"Bearer {world.keys['tremble']}"},
    )
    error_of(response, 400, "BAD_REQUEST")


async def test_json_nested_1000_deep_is_still_read(world: World) -> None:
    content = '{"query": "' + NAME + '", "extensions": {"a": ' + nested(1_000) + "}}"
    response = await post_raw(world, content.encode())
    assert response.status_code == 200
    assert response.json() == {
        "data": {"activeBusiness": {"name": "Tremble Studios"}},
        "extensions": {"cost": {"requestedQueryCost": 1, "actualQueryCost": 1}},
    }


async def test_a_lone_surrogate_in_the_body_is_refused_without_echoing_it(world: World) -> None:
    content = b'{"query": "query A { activeBusiness { id } }", "operationName": "\\ud800"}'
    error = error_of(await post_raw(world, content), 400, "BAD_REQUEST")
    assert "lone surrogate" in error["message"]


async def test_a_lone_surrogate_escape_in_the_document_is_a_parse_error(world: World) -> None:
    query = 'query { activeBusiness { participants(after: "\\ud800") { nodes { id } } } }'
    response = await post_raw(world, json.dumps({"query": query}).encode())
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] in {"GRAPHQL_PARSE_FAILED", "BAD_USER_INPUT"}


async def test_an_unknown_operation_name_from_a_query_string_is_bad_user_input(
    world: World,
) -> None:
    response = await world.client.get(
        "/@tremble/api/graphql?query=query%20A%7B__typename%7D&operationName=%ED%A0%80",
        headers={"Authorization": f"Bearer {world.keys['tremble']}"},
    )
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "content",
    [
        '{"query": "{ __typename }"}'.encode("utf-16"),
        '{"query": "{ __typename }"}'.encode("utf-16-be"),
        '{"query": "{ __typename }"}'.encode("utf-32"),
        '{"query": "{ __typename }"}'.encode("utf-32-le"),
        b"\xef\xbb\xbf" + b'{"query": "{ __typename }"}',
    ],
    ids=["utf-16 with bom", "utf-16 without bom", "utf-32 with bom", "utf-32 without", "utf-8 bom"],
)
async def test_a_body_that_is_not_plain_utf8_is_415(world: World, content: bytes) -> None:
    error = error_of(await post_raw(world, content), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "UTF-8" in error["message"]


async def test_the_documentation_link_never_comes_from_the_host_header(world: World) -> None:
    response = await world.query(
        "{ activeBusiness { participants { nodes { phone } } } }",
        headers={"Host": "evil.example"},
    )
    [error] = response.json()["errors"]
    assert error["extensions"]["documentation"] == "/@tremble/api/reference"
    assert "evil.example" not in response.text


class TestWithAPublicUrl:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {"public_url": "https://api.example.com"}

    async def test_the_documentation_link_uses_the_public_url(self, world: World) -> None:
        response = await world.query(
            "{ activeBusiness { participants { nodes { phone } } } }",
            headers={"Host": "evil.example"},
        )
        [error] = response.json()["errors"]
        assert error["extensions"]["documentation"] == (
            "https://api.example.com/@tremble/api/reference"
        )


class TestFailedAuthentication:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {"auth_failure_limit": 5}

    async def test_wrong_keys_from_one_address_are_limited(self, world: World) -> None:
        statuses = [
            (await world.query(NAME, key=f"sk_{i:012x}_{'A' * 43}")).status_code for i in range(8)
        ]
        assert statuses == [401] * 5 + [429] * 3
        refused = await world.query(NAME, key="sk_000000000000_" + "B" * 43)
        assert refused.headers["Retry-After"] == "12"
        assert answered(refused)["errors"][0]["extensions"] == {
            "code": "RATE_LIMITED",
            "retryAfter": 12,
            "scope": "address",
        }
        # A valid key from the same address is still served.
        assert (await world.query(NAME)).status_code == 200


async def test_an_unexpected_error_is_a_500_logged_exactly_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: Request) -> None:
        raise RuntimeError("a bug")

    app = world.client._transport.app  # type: ignore[attr-defined]
    app.router.routes.insert(0, Route("/broken", broken))
    response = await world.client.get("/broken")
    error_of(response, 500, "INTERNAL_SERVER_ERROR")
    assert "a bug" not in response.text
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1
    for record in logged:
        record.expected = True  # type: ignore[attr-defined]


def test_the_sqlite_store_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    from click.testing import CliRunner

    database = tmp_path / "private.db"
    environ = {
        "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "BUSINESS_API_SECRET_KEY": "a-secret-key-of-enough-length",
    }
    assert CliRunner(env=environ).invoke(main, ["migrate"]).exit_code == 0
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
