"""The production topology without containers: two `business-api serve` processes on one
PostgreSQL store and one Redis, as compose.yaml runs them. What one process does (mint a
key, revoke it, count a business's requests), the other sees."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, text

from server.store.database import create_engine
from tests.live import running_server
from tests.server.test_operator_errors import business_api

pytestmark = pytest.mark.subprocess

ADMIN_TOKEN = "topology-admin-token-0123456789abcdef"
POLL_SECONDS = 0.5  # BUSINESS_API_STORE_POLL_SECONDS: the bound on seeing another's change
BUSINESS_LIMIT = 6
NAME = "{ activeBusiness { name } }"


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own on the test PostgreSQL server, dropped afterwards."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: the topology runs on PostgreSQL")
    if not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("TEST_REDIS_URL is not set: the topology shares its rate limits in Redis")
    name = f"topology_{uuid.uuid4().hex[:12]}"

    def run(statement: str) -> None:
        async def go() -> None:
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            async with engine.connect() as connection:
                await connection.execute(text(statement))
            await engine.dispose()

        asyncio.run(go())

    run(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        run(f'DROP DATABASE "{name}" WITH (FORCE)')


def _admin(base_url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = httpx.post(
        f"{base_url}/admin/api/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _ask(base_url: str, handle: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/@{handle}/api/graphql",
        json={"query": NAME},
        headers={"Authorization": f"Bearer {key}"},
    )


def _mint(base_url: str, business_id: str) -> tuple[str, str]:
    created = _admin(
        base_url,
        """mutation($b: ID!) { createApiKey(businessId: $b, name: "topology",
             scopes: ["business:read"]) { key apiKey { keyId } } }""",
        {"b": business_id},
    )["createApiKey"]
    return created["key"], created["apiKey"]["keyId"]


def test_two_servers_on_one_store_and_one_redis_act_as_one(database: str, tmp_path: Path) -> None:
    settings = {
        "BUSINESS_API_DATABASE_URL": database,
        "BUSINESS_API_SECRET_KEY": "topology-secret-key-0123456789",
        "BUSINESS_API_REDIS_URL": os.environ["TEST_REDIS_URL"],
        "BUSINESS_API_ADMIN_TOKEN": ADMIN_TOKEN,
        "BUSINESS_API_STORE_POLL_SECONDS": str(POLL_SECONDS),
        "BUSINESS_API_KEY_RATE_LIMIT": "1000",
    }
    cli = settings
    assert business_api(tmp_path, "migrate", **cli).returncode == 0
    for handle in ("tremble", "acme"):
        created = business_api(
            tmp_path, "businesses", "create", "--handle", handle, "--name", handle.title(), **cli
        )
        assert created.returncode == 0, created.stderr
    limited = business_api(
        tmp_path, "businesses", "update", "acme", "--rate-limit", str(BUSINESS_LIMIT), **cli
    )
    assert limited.returncode == 0, limited.stderr

    with ExitStack() as servers:
        one = servers.enter_context(running_server(settings))
        two = servers.enter_context(running_server(settings))
        ids = {
            b["handle"]: b["id"] for b in _admin(one, "{ businesses { id handle } }")["businesses"]
        }

        # A key minted through one server is accepted by the other.
        key, key_id = _mint(one, ids["tremble"])
        assert _ask(two, "tremble", key).json()["data"] == {"activeBusiness": {"name": "Tremble"}}
        assert _ask(one, "tremble", key).status_code == 200

        # Revoked through the other: refused there at once, and by the first within the bound.
        _admin(
            two, "mutation($k: String!) { revokeApiKey(keyId: $k) { revokedAt } }", {"k": key_id}
        )
        assert _ask(two, "tremble", key).status_code == 401
        revoked_at = time.monotonic()
        while _ask(one, "tremble", key).status_code != 401:
            assert time.monotonic() - revoked_at < POLL_SECONDS + 1.5, "revocation not seen"
            time.sleep(0.05)

        # The business's rate limit is one budget across both servers.
        acme, _ = _mint(two, ids["acme"])
        answers = [
            _ask((one, two)[i % 2], "acme", acme).status_code for i in range(BUSINESS_LIMIT * 2)
        ]
        assert answers.count(200) == BUSINESS_LIMIT, answers
        assert set(answers[BUSINESS_LIMIT:]) == {429}, answers
