"""Connection runtimes: built once and kept, rebuilt when the store says connections
changed (whichever process changed them), and a connection the server cannot use is an
error its clients and the operator see, never skipped."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import update

from server.store.crypto import CredentialCipher
from server.store.models import ProviderConnection
from tests.server.conftest import World

NAMES = "{ activeBusiness { name participants(first: 5) { nodes { name } } } }"


@pytest.fixture
def connected() -> dict[str, tuple[str, ...]]:
    return {"tremble": ("wix", "sessionboard:live"), "acme": ("wix",)}


async def _set_connection(world: World, label: str, **values: Any) -> None:
    """Change a connection row behind the server's back, as another process would."""
    public_id = world.connection_ids[("tremble", label)]
    async with world.services.engine.begin() as connection:
        await connection.execute(
            update(ProviderConnection)
            .where(ProviderConnection.public_id == public_id)
            .values(**values)
        )


async def test_credentials_are_decrypted_once_not_per_request(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    decrypted: list[str] = []
    original = CredentialCipher.decrypt

    def counting(self: CredentialCipher, token: str) -> str:
        decrypted.append(token)
        return original(self, token)

    monkeypatch.setattr(CredentialCipher, "decrypt", counting)
    for _ in range(5):
        assert "errors" not in (await world.query(NAMES)).json()
    assert len(decrypted) == 2  # one per connection of the business, on its first request


async def test_a_change_made_elsewhere_is_seen_once_the_watcher_looks(world: World) -> None:
    watcher = world.services.watcher
    await watcher.check()
    assert "errors" not in (await world.query(NAMES)).json()
    await world.services.store.update_connection(
        world.connection_ids[("tremble", "wix")], base_url="http://upstream.test/nowhere"
    )
    assert await watcher.check() is True
    body = (await world.query(NAMES)).json()
    assert [e["extensions"]["provider"] for e in body["errors"]] == ["wix"]
    assert await watcher.check() is False  # nothing new


async def test_a_credential_that_no_longer_decrypts_is_unavailable_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await _set_connection(world, "wix", credential_encrypted="gAAAAAgarbage")
    world.services.runtimes.invalidate()
    body = (await world.query(NAMES)).json()
    assert body["data"]["activeBusiness"]["participants"]["nodes"]  # Sessionboard fills in
    [error] = body["errors"]
    assert error["extensions"]["provider"] == "wix"
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("cannot be used" in m and "decrypt" in m for m in logged)
    assert "gAAAAA" not in caplog.text


async def test_a_provider_this_server_does_not_know_is_unavailable_not_skipped(
    world: World,
) -> None:
    await _set_connection(world, "wix", provider="shopify")
    world.services.runtimes.invalidate()
    body = (await world.query(NAMES)).json()
    assert [e["extensions"]["provider"] for e in body["errors"]] == ["shopify"]
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_UNAVAILABLE"]
    assert body["data"]["activeBusiness"]["participants"]["nodes"]  # Sessionboard fills
