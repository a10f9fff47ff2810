"""A provider failing at query time is logged for the operator: the connection, the
provider, the HTTP status or the cause, never the credential or what the provider said;
and under `business-api serve` those lines reach stderr."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import _command, _environ, _wait_until_serving, free_port
from tests.server.conftest import World, credential_of

PAGE = "{ activeBusiness { participants(first: 5) { nodes { id } } } }"
EMULATOR_BODY = "Internal error"  # what the emulated Wix says with its 500s
UPSTREAM_TIMEOUT = 0.2


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {
        "breaker_failures": 2,
        "breaker_cooldown_seconds": 60,
        "upstream_timeout_seconds": UPSTREAM_TIMEOUT,
    }


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("fault", "logged_as"),
    [
        ({"status": 500}, "status=500 cause=HTTP 500"),
        ({"hang": True}, f"status=None cause=timed out after {UPSTREAM_TIMEOUT:g} s"),
    ],
    ids=["server error", "no answer"],
)
async def test_a_failing_provider_is_logged_with_its_connection_provider_and_status(
    world: World, caplog: pytest.LogCaptureFixture, fault: dict[str, Any], logged_as: str
) -> None:
    for name, value in fault.items():
        setattr(world.emulator("wix").faults, name, value)
    caplog.set_level("WARNING", logger="server")
    body = (await world.query(PAGE)).json()
    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    [line] = [r.getMessage() for r in caplog.records if r.name == "server.federation"]
    connection = world.connections["tremble"]
    assert line.endswith(f"connection={connection} provider=wix {logged_as}")
    assert credential_of("wix", "tremble") not in logged(caplog)
    assert EMULATOR_BODY not in logged(caplog)


async def test_the_circuit_opening_is_logged_once_with_the_last_failure(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.emulator("wix").faults.status = 500
    caplog.set_level("WARNING", logger="server")
    for _ in range(4):  # two failures open the circuit; the next two fail fast
        await world.query(PAGE)
    opened = [r.getMessage() for r in caplog.records if "circuit opened" in r.getMessage()]
    connection = world.connections["tremble"]
    assert opened == [
        f"circuit opened, failing fast for 60 s: connection={connection} provider=wix "
        "status=500 cause=HTTP 500"
    ]
    assert credential_of("wix", "tremble") not in logged(caplog)


async def _business_with_a_dead_provider(database_url: str, secret: str, dead: str) -> str:
    """A migrated store with @tremble connected to Wix at `dead`; returns a key."""
    from server.store.crypto import CredentialCipher
    from server.store.database import create_engine, migrate, session_factory
    from server.store.repository import Store

    engine = create_engine(database_url)
    try:
        await migrate(engine)
        store = Store(session_factory(engine), CredentialCipher(secret))
        business = await store.create_business("tremble", "Tremble Studios")
        await store.add_connection(
            business.id,
            provider="wix",
            base_url=dead,
            account_id="site-1",
            credential="the-wix-credential-0123",
            mode="live",
        )
        _, key = await store.create_api_key(
            business.id, name="logs", scopes=["business:read", "participants:read"]
        )
        return key
    finally:
        await engine.dispose()


@pytest.mark.subprocess
def test_serve_prints_provider_failures_on_stderr(tmp_path: Path) -> None:
    settings = {
        "BUSINESS_API_SECRET_KEY": "serve-logs-secret-key-0123456789",
        "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
    }
    dead = f"http://127.0.0.1:{free_port()}"
    key = asyncio.run(
        _business_with_a_dead_provider(
            settings["BUSINESS_API_DATABASE_URL"], settings["BUSINESS_API_SECRET_KEY"], dead
        )
    )
    port = free_port()
    process = subprocess.Popen(
        [*_command(), "serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_environ(settings),
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_serving(base_url)
        answer = httpx.post(
            f"{base_url}/@tremble/api/graphql",
            json={"query": PAGE},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        assert answer["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    connection = answer["errors"][0]["extensions"]["connection"]
    lines = [json.loads(line) for line in stderr.splitlines()]  # JSON, one event a line
    [failure] = [line for line in lines if line["logger"] == "server.federation"]
    assert failure["level"] == "warning"
    assert failure["event"] == (
        f"provider call failed: connection={connection} provider=wix status=None "
        "cause=ConnectionRefusedError: connection refused"
    )
    assert failure["request_id"] == answer["errors"][0]["extensions"]["requestId"]
    assert settings["BUSINESS_API_SECRET_KEY"] not in stderr and key not in stderr

    assert "the-wix-credential-0123" not in stderr
