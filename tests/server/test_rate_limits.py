"""Rate limits over HTTP: per key, per business, headers, and the 429 a client sees."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.conftest import ALL_SCOPES, World, answered

KEY_LIMIT = 5
BUSINESS_LIMIT = 8
NAME = "{ activeBusiness { name } }"


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"key_rate_limit": KEY_LIMIT, "business_rate_limit": BUSINESS_LIMIT}


async def _key(world: World, handle: str = "tremble") -> str:
    _, key = await world.services.store.create_api_key(
        world.business_ids[handle], name="extra", scopes=ALL_SCOPES
    )
    return key


def assert_rate_limited(response: httpx.Response, scope: str, retry_after: int) -> None:
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(retry_after)
    error = answered(response)["errors"][0]
    assert error["extensions"] == {
        "code": "RATE_LIMITED",
        "retryAfter": retry_after,
        "scope": scope,
    }
    assert "data" not in response.json()


async def test_a_key_over_its_limit_gets_429_with_retry_after(world: World) -> None:
    for _ in range(KEY_LIMIT):
        assert (await world.query(NAME)).status_code == 200
    # One request per 60 / 5 = 12 seconds refills the key's bucket.
    assert_rate_limited(await world.query(NAME), "key", 12)


async def test_the_headers_count_down_for_the_tighter_bucket(world: World) -> None:
    remaining = []
    for _ in range(KEY_LIMIT):
        response = await world.query(NAME)
        assert response.headers["RateLimit-Limit"] == str(KEY_LIMIT)
        remaining.append(int(response.headers["RateLimit-Remaining"]))
        assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
    assert remaining == [4, 3, 2, 1, 0]
    refused = await world.query(NAME)
    assert refused.headers["RateLimit-Remaining"] == "0"


async def test_two_keys_of_one_business_together_hit_the_business_limit(world: World) -> None:
    second = await _key(world)
    for _ in range(KEY_LIMIT):
        assert (await world.query(NAME)).status_code == 200
    for _ in range(BUSINESS_LIMIT - KEY_LIMIT):
        assert (await world.query(NAME, key=second)).status_code == 200
    # 60 / 8 = 7.5 seconds for the business bucket's next token: 8 whole seconds.
    assert_rate_limited(await world.query(NAME, key=second), "business", 8)
    third = await _key(world)
    assert_rate_limited(await world.query(NAME, key=third), "business", 8)


async def test_a_refused_request_takes_nothing_from_the_business(world: World) -> None:
    for _ in range(KEY_LIMIT):
        await world.query(NAME)
    for _ in range(10):
        assert (await world.query(NAME)).status_code == 429
    second = await _key(world)
    admitted = [(await world.query(NAME, key=second)).status_code for _ in range(3)]
    assert admitted == [200, 200, 200]


async def test_a_key_of_another_business_is_unaffected(world: World) -> None:
    second = await _key(world)
    for key in ("tremble", second):
        for _ in range(KEY_LIMIT):
            await world.query(NAME, key=key)
    assert (await world.query(NAME, key=second)).status_code == 429
    other = await world.query(NAME, key="acme", handle="acme")
    assert other.status_code == 200
    assert other.headers["RateLimit-Remaining"] == str(KEY_LIMIT - 1)


async def test_a_business_override_from_the_store_applies(world: World) -> None:
    await world.services.store.set_rate_limit(world.business_ids["tremble"], 2)
    assert [(await world.query(NAME)).status_code for _ in range(2)] == [200, 200]
    assert_rate_limited(await world.query(NAME), "business", 30)


async def test_every_answer_to_a_known_key_carries_the_headers(world: World) -> None:
    responses = [
        await world.query("{ activeBusiness { participants { nodes { phone } } } }"),
        await world.post([{"query": NAME}]),
        await world.query("{ nope"),
    ]
    assert [r.status_code for r in responses] == [200, 400, 200]
    for response in responses:
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(
            response.headers
        )
    assert [r.headers["RateLimit-Remaining"] for r in responses] == ["4", "3", "2"]


async def test_an_unknown_key_draws_from_no_bucket(world: World) -> None:
    for _ in range(KEY_LIMIT + 2):
        assert (await world.query(NAME, key="sk_000000000000_nothing")).status_code == 401
    assert (await world.query(NAME)).status_code == 200
