"""The store stopping is a dependency's outage: a key not yet verified is answered 503
with `Retry-After` and SERVICE_UNAVAILABLE, a verified key keeps working, an indexed
connection is unavailable while the live ones answer, and the log says so once per
outage, without a traceback."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, text

from server.app import create_app
from server.services import Services
from server.store.availability import StoreUnavailable
from server.store.crypto import CredentialCipher
from server.store.database import create_engine, migrate, session_factory
from server.store.repository import Store
from tests.server.conftest import ALL_SCOPES, TREMBLE_CONTACTS, World, settings_for
from tests.tcp_proxy import TcpProxy

NAME = "{ activeBusiness { name } }"
PARTICIPANTS = "{ activeBusiness { participants(first: 5) { nodes { id } } } }"
PAGE = """query($after: String) { activeBusiness { participants(first: 100, after: $after) {
  nodes { id } pageInfo { hasNextPage endCursor } } } }"""
SECRET = "test-secret-key-0123456789abcdef"


@dataclass
class Outage:
    client: httpx.AsyncClient
    services: Services
    proxy: TcpProxy
    keys: list[str]


@pytest.fixture
async def behind_a_proxy(
    tmp_path: Path, graph_of: Any, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Outage]:
    """A server whose PostgreSQL store (a database of its own) it reaches through a proxy
    the test closes; @tremble in it, with three keys."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: the outage is of a PostgreSQL store")
    name = f"outage_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    direct = make_url(url).set(database=name)
    engine = create_engine(direct.render_as_string(hide_password=False))
    await migrate(engine)
    store = Store(session_factory(engine), CredentialCipher(SECRET))
    business = await store.create_business("tremble", "Tremble Studios")
    keys = [(await store.create_api_key(business.id, name=f"k{n}", scopes=ALL_SCOPES))[1]
            for n in range(3)]  # fmt: skip
    await engine.dispose()

    proxy = await TcpProxy(direct.host or "127.0.0.1", direct.port or 5432).open()
    proxied = direct.set(host="127.0.0.1", port=proxy.port)
    settings = settings_for(tmp_path, database_url=proxied.render_as_string(hide_password=False))
    app = create_app(settings, graph=graph_of(settings.policy_path))
    services: Services = app.state.services
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    caplog.set_level(logging.INFO)
    try:
        yield Outage(client, services, proxy, keys)
    finally:
        await client.aclose()
        await services.close()
        await proxy.close()
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _ask(outage: Outage, key: str, query: str = NAME) -> httpx.Response:
    return await outage.client.post(
        "/@tremble/api/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"}
    )


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or r.stack_info]


def _outage_lines(caplog: pytest.LogCaptureFixture, what: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(what)]


async def test_with_the_store_unreachable_only_what_needs_it_is_refused_with_503(
    behind_a_proxy: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    outage = behind_a_proxy
    verified, unverified, _ = outage.keys
    assert (await _ask(outage, verified)).json()["data"]["activeBusiness"]["name"]

    await outage.proxy.close()
    refusals = [await _ask(outage, unverified) for _ in range(3)]
    cold = await _ask(outage, verified, PARTICIPANTS)  # its connections were never read
    warm = await _ask(outage, verified)
    ready = await outage.client.get("/readyz")
    operator = await outage.client.post(
        "/admin/api/graphql",
        json={"query": "{ businesses { handle } }"},
        headers={"Authorization": f"Bearer {outage.services.settings.admin_token}"},
    )

    for refused in [*refusals, cold, operator]:
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "5"
        codes = [e["extensions"]["code"] for e in refused.json()["errors"]]
        assert codes == ["SERVICE_UNAVAILABLE"]
        assert refused.json()["errors"][0]["extensions"]["retryAfter"] == 5
        assert "postgres" not in refused.text.lower() and "refused" not in refused.text
    assert warm.status_code == 200
    assert warm.json()["data"] == {"activeBusiness": {"name": "Tremble Studios"}}
    assert ready.status_code == 503 and "refused" in ready.json()["checks"]["store"]
    assert _tracebacks(caplog) == []
    [failed] = _outage_lines(caplog, "dependency failed")
    assert "dependency=store cause=" in failed  # the connection lost, or refused

    await outage.proxy.open()
    assert (await _ask(outage, unverified)).status_code == 200
    assert (await outage.client.get("/readyz")).status_code == 200
    assert len(_outage_lines(caplog, "dependency recovered")) == 1
    assert _tracebacks(caplog) == []


async def test_background_work_waits_out_the_outage_quietly(
    behind_a_proxy: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    outage = behind_a_proxy
    services = outage.services
    assert (await _ask(outage, outage.keys[0])).status_code == 200
    await services.watcher.check()

    await outage.proxy.close()
    with pytest.raises(StoreUnavailable):  # run() looks again at its next poll
        await services.watcher.check()
    await services.key_use.flush()  # kept for the next flush
    await outage.proxy.open()
    await services.key_use.flush()

    used = {key.key_id: key.last_used_at for key in await services.store.list_api_keys()}
    assert used[outage.keys[0].split("_")[1]] is not None
    assert _tracebacks(caplog) == []
    assert len(_outage_lines(caplog, "dependency failed")) == 1


@pytest.fixture
def connected() -> dict[str, tuple[str, ...]]:
    return {"tremble": ("wix", "boxpressd"), "acme": ("wix",)}


async def test_an_indexed_connection_the_store_cannot_read_is_unavailable_the_rest_answers(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for outcome in await world.services.sync.sync_all():
        assert outcome.synced
    first = (await world.query(PAGE)).json()  # Wix's first 100 of 120; runtimes built
    after = first["data"]["activeBusiness"]["participants"]["pageInfo"]["endCursor"]

    unreachable = create_engine(f"sqlite+aiosqlite:///{world.services.settings.policy_path}/x/db")
    index = world.services.index
    monkeypatch.setattr(index, "_sessions", session_factory(unreachable, world.services.outage))
    answered = await world.query(PAGE, {"after": after})

    assert answered.status_code == 200
    body = answered.json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["provider"] == "boxpressd"
    participants = body["data"]["activeBusiness"]["participants"]
    assert len(participants["nodes"]) == TREMBLE_CONTACTS - 100  # the rest of Wix's
    assert participants["pageInfo"]["hasNextPage"] is True  # Boxpressd's, once it answers
    assert _tracebacks(caplog) == []
    [failed] = _outage_lines(caplog, "dependency failed")
    assert "unable to open database file" in failed
    await unreachable.dispose()
