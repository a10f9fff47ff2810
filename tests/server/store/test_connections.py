"""Provider connections: encrypted credentials, ordering, removal."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store.crypto import CredentialCipher
from server.store.database import session_factory
from server.store.invalidation import Invalidation
from server.store.models import ProviderConnection
from server.store.repository import (
    BusinessNotFound,
    ConnectionNotFound,
    ConnectionRecord,
    InvalidConnection,
    Store,
)

CREDENTIAL = "wix-secret-token-0123456789"


async def _add(
    store: Store, business_id: int, kind: str, credential: str = CREDENTIAL
) -> ConnectionRecord:
    return await store.add_connection(
        business_id,
        provider=kind,
        base_url=f"https://{kind}.example.com",
        account_id=f"{kind}-account",
        credential=credential,
        mode="live",
    )


async def test_a_credential_is_stored_encrypted(store: Store, migrated_engine: AsyncEngine) -> None:
    business = await store.create_business("acme", "Acme")
    connection = await _add(store, business.id, "wix")

    async with migrated_engine.connect() as conn:
        raw = (
            await conn.execute(
                select(ProviderConnection.__table__).where(
                    ProviderConnection.public_id == connection.public_id
                )
            )
        ).one()

    assert raw.credential_encrypted != CREDENTIAL
    for value in raw:
        assert CREDENTIAL not in str(value)


async def test_connection_configs_decrypt_credentials_in_position_order(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    other = await store.create_business("other", "Other")
    wix = await _add(store, business.id, "wix", "cred-wix")
    await _add(store, other.id, "sessions", "cred-other")
    board = await _add(store, business.id, "sessionboard", "cred-board")
    boxes = await _add(store, business.id, "boxpressd", "cred-boxes")

    configs = await store.connection_configs(business.id)

    assert [c.connection for c in configs] == [wix, board, boxes]
    assert [c.credential for c in configs] == ["cred-wix", "cred-board", "cred-boxes"]
    assert [c.connection.position for c in configs] == [0, 1, 2]
    assert re.fullmatch(r"conn_[0-9a-f]{8}", wix.public_id)


async def test_connections_are_listed_by_business_then_position(store: Store) -> None:
    acme = await store.create_business("acme", "Acme")
    other = await store.create_business("other", "Other")
    o1 = await _add(store, other.id, "wix")
    a1 = await _add(store, acme.id, "wix")
    o2 = await _add(store, other.id, "sessions")
    a2 = await _add(store, acme.id, "sessions")

    assert await store.list_connections() == [a1, a2, o1, o2]
    assert await store.list_connections(other.id) == [o1, o2]


async def test_a_removed_connection_is_gone_and_new_ones_go_last(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    first = await _add(store, business.id, "wix")
    second = await _add(store, business.id, "sessions")
    third = await _add(store, business.id, "sessionboard")

    await store.remove_connection(third.public_id)
    await store.remove_connection(first.public_id)
    fourth = await _add(store, business.id, "boxpressd")

    assert await store.list_connections(business.id) == [second, fourth]
    assert fourth.position > second.position


async def test_removing_an_unknown_connection_raises_connection_not_found(store: Store) -> None:
    with pytest.raises(ConnectionNotFound):
        await store.remove_connection("conn_00000000")


async def test_the_connection_config_repr_hides_the_credential(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    await _add(store, business.id, "wix")

    [config] = await store.connection_configs(business.id)

    assert config.credential == CREDENTIAL
    assert CREDENTIAL not in repr(config)
    assert CREDENTIAL not in str(config)


async def test_a_credential_the_secret_key_cannot_decrypt_is_reported_on_its_connection(
    store: Store, migrated_engine: AsyncEngine
) -> None:
    business = await store.create_business("acme", "Acme")
    await _add(store, business.id, "wix")
    other_store = Store(session_factory(migrated_engine), CredentialCipher("a different key"))

    [config] = await other_store.connection_configs(business.id)
    assert config.credential is None
    assert config.problem is not None and "BUSINESS_API_SECRET_KEY" in config.problem


@pytest.mark.parametrize(("kind", "mode"), [("shopify", "live"), ("wix", "cached")])
async def test_an_unknown_provider_or_mode_is_refused(
    migrated_engine: AsyncEngine, cipher: CredentialCipher, kind: str, mode: str
) -> None:
    store = Store(session_factory(migrated_engine), cipher, providers=["wix", "sessions"])
    business = await store.create_business("acme", "Acme")

    with pytest.raises(InvalidConnection):
        await store.add_connection(
            business.id,
            provider=kind,
            base_url="https://x",
            account_id="a",
            credential="c",
            mode=mode,
        )


async def test_a_connection_for_a_missing_business_is_refused(store: Store) -> None:
    with pytest.raises(BusinessNotFound):
        await _add(store, 12345, "wix")


async def test_connections_added_concurrently_get_distinct_positions(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    kinds = ["wix", "sessions", "sessionboard", "boxpressd", "wix"]

    added = await asyncio.gather(*(_add(store, business.id, kind) for kind in kinds))

    assert sorted(c.position for c in added) == [0, 1, 2, 3, 4]


async def test_an_updated_connection_keeps_its_id_and_position(store: Store) -> None:
    business = await store.create_business("moves", "Moves")
    connection = await _add(store, business.id, "wix")
    before = await store.revision()
    await store.update_connection(
        connection.public_id, base_url="http://127.0.0.1:9999/_emulators/wix", credential="new"
    )
    moved = await store.get_connection(connection.public_id)
    assert moved is not None
    assert moved.public_id == connection.public_id and moved.position == connection.position
    assert moved.base_url == "http://127.0.0.1:9999/_emulators/wix"
    [config] = await store.connection_configs(business.id)
    assert config.credential == "new"
    assert await store.revision() == before + 1
    with pytest.raises(ConnectionNotFound):
        await store.update_connection("conn_missing", base_url="http://x")


async def test_every_change_servers_cache_is_logged_naming_what_changed(store: Store) -> None:
    from datetime import UTC, datetime

    start = await store.revision()
    business = await store.create_business("rev", "Rev")
    connection = await _add(store, business.id, "wix")
    key, _ = await store.create_api_key(business.id, name="k", scopes=["business:read"])
    await store.revoke_api_key(key.key_id, now=datetime.now(UTC))
    await store.set_rate_limit(business.id, 10)
    await store.remove_connection(connection.public_id)

    # A new business or key is nothing a server can have cached: not logged.
    assert await store.invalidations_since(start) == (
        start + 4,
        [
            Invalidation.connections(business.id),
            Invalidation.key(key.key_id),
            Invalidation.business(business.id),
            Invalidation.connections(business.id),
        ],
    )
    assert await store.invalidations_since(start + 4) == (start + 4, [])


async def test_a_business_is_found_by_its_public_id_and_by_its_connection(store: Store) -> None:
    business = await store.create_business("finds", "Finds")
    connection = await _add(store, business.id, "wix")
    assert await store.get_business_by_public_id(business.public_id) == business
    assert await store.get_business_of_connection(connection.public_id) == business
    assert await store.get_business_by_public_id("biz_missing") is None
    assert await store.get_business_of_connection("conn_missing") is None


async def test_connection_configs_are_found_by_the_business_public_id(store: Store) -> None:
    business = await store.create_business("public", "Public")
    other = await store.create_business("other", "Other")
    mine = await _add(store, business.id, "wix")
    await _add(store, other.id, "wix")
    configs = await store.connection_configs(business_public_id=business.public_id)
    assert [c.connection for c in configs] == [mine]
    assert configs[0].credential == CREDENTIAL
    assert await store.connection_configs(business_public_id="biz_missing") == []
