"""API keys: authentication, storage of the secret, revocation, expiry, last use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store.keys import hash_secret, parse_key
from server.store.models import ApiKey
from server.store.repository import BusinessNotFound, KeyNotActive, KeyNotFound, Store

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


async def test_a_minted_key_authenticates_and_returns_its_business_and_scopes(
    store: Store,
) -> None:
    business = await store.create_business("acme", "Acme")
    other = await store.create_business("other", "Other")
    await store.create_api_key(other.id, name="other key", scopes=["events:read"])
    row, full_key = await store.create_api_key(
        business.id, name="website", scopes=["events:read", "bookings:read"]
    )

    result = await store.authenticate(full_key, now=NOW)

    assert result is not None
    found_business, found_key = result
    assert found_business == business
    assert found_key.key_id == row.key_id
    assert found_key.scopes == ("events:read", "bookings:read")
    assert found_key.name == "website"
    assert found_key.business_id == business.id


async def test_only_the_hash_of_the_secret_is_stored(
    store: Store, migrated_engine: AsyncEngine
) -> None:
    business = await store.create_business("acme", "Acme")
    row, full_key = await store.create_api_key(business.id, name="k", scopes=["a"])
    parsed = parse_key(full_key)
    assert parsed is not None
    _, secret = parsed

    async with migrated_engine.connect() as conn:
        raw = (
            await conn.execute(select(ApiKey.__table__).where(ApiKey.key_id == row.key_id))
        ).one()

    for value in raw:
        assert secret not in str(value)
        assert full_key not in str(value)
    assert raw.secret_hash == hash_secret(secret)


@pytest.mark.parametrize(
    "presented",
    ["", "sk_", "Bearer x", "pk_{id}_{secret}", "sk_{id}_{secret}_x", "sk_{id}_a_b", "x" * 10_000],
)
async def test_a_malformed_key_is_refused(store: Store, presented: str) -> None:
    business = await store.create_business("acme", "Acme")
    row, full_key = await store.create_api_key(business.id, name="k", scopes=[])
    parsed = parse_key(full_key)
    assert parsed is not None
    presented = presented.format(id=parsed[0], secret=parsed[1])

    assert await store.authenticate(presented, now=NOW) is None


async def test_an_unknown_key_id_is_refused(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    _, full_key = await store.create_api_key(business.id, name="k", scopes=[])
    _, key_id, secret = full_key.split("_")
    unknown_id = "0" * 12 if key_id != "0" * 12 else "1" * 12

    assert await store.authenticate(f"sk_{unknown_id}_{secret}", now=NOW) is None


async def test_a_wrong_secret_is_refused(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    _, full_key = await store.create_api_key(business.id, name="k", scopes=[])
    _, key_id, secret = full_key.split("_")
    wrong = ("b" if secret[0] == "a" else "a") + secret[1:]

    assert await store.authenticate(f"sk_{key_id}_{wrong}", now=NOW) is None


async def test_a_revoked_key_is_refused_and_revoking_again_keeps_the_first_time(
    store: Store,
) -> None:
    business = await store.create_business("acme", "Acme")
    row, full_key = await store.create_api_key(business.id, name="k", scopes=[])

    revoked = await store.revoke_api_key(row.key_id, now=NOW)
    again = await store.revoke_api_key(row.key_id, now=NOW + timedelta(days=1))

    assert revoked.revoked_at == NOW
    assert again.revoked_at == NOW
    assert await store.authenticate(full_key, now=NOW + timedelta(seconds=1)) is None


async def test_revoking_an_unknown_key_raises_key_not_found(store: Store) -> None:
    with pytest.raises(KeyNotFound):
        await store.revoke_api_key("0123456789ab", now=NOW)


async def test_a_key_is_refused_from_the_moment_it_expires(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    expires = NOW + timedelta(hours=1)
    row, full_key = await store.create_api_key(business.id, name="k", scopes=[], expires_at=expires)

    assert row.expires_at == expires
    assert await store.authenticate(full_key, now=expires - timedelta(seconds=1)) is not None
    assert await store.authenticate(full_key, now=expires) is None
    assert await store.authenticate(full_key, now=expires + timedelta(days=1)) is None


async def test_a_key_for_a_missing_business_is_refused(store: Store) -> None:
    with pytest.raises(BusinessNotFound):
        await store.create_api_key(12345, name="k", scopes=[])


async def test_listing_keys_filters_by_business_and_never_exposes_secrets(store: Store) -> None:
    acme = await store.create_business("acme", "Acme")
    other = await store.create_business("other", "Other")
    first, _ = await store.create_api_key(acme.id, name="one", scopes=["a"])
    second, _ = await store.create_api_key(acme.id, name="two", scopes=["b"])
    third, _ = await store.create_api_key(other.id, name="three", scopes=[])

    assert [k.key_id for k in await store.list_api_keys(acme.id)] == [
        first.key_id,
        second.key_id,
    ]
    assert {k.key_id for k in await store.list_api_keys()} == {
        first.key_id,
        second.key_id,
        third.key_id,
    }
    assert not hasattr(first, "secret_hash")


async def test_record_key_use_only_moves_last_used_forward(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    a, _ = await store.create_api_key(business.id, name="a", scopes=[])
    b, _ = await store.create_api_key(business.id, name="b", scopes=[])
    assert a.last_used_at is None

    await store.record_key_use({a.key_id: NOW, b.key_id: NOW})
    await store.record_key_use(
        {a.key_id: NOW - timedelta(minutes=5), b.key_id: NOW + timedelta(minutes=5)}
    )
    await store.record_key_use({})

    last_used = {k.key_id: k.last_used_at for k in await store.list_api_keys(business.id)}
    assert last_used == {a.key_id: NOW, b.key_id: NOW + timedelta(minutes=5)}


async def test_record_key_use_ignores_unknown_key_ids(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    a, _ = await store.create_api_key(business.id, name="a", scopes=[])

    await store.record_key_use({"0123456789ab": NOW, a.key_id: NOW})

    [stored] = await store.list_api_keys(business.id)
    assert stored.last_used_at == NOW


async def test_datetimes_come_back_as_aware_utc_whatever_the_input_offset(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    plus_two = timezone(timedelta(hours=2))
    expires = datetime(2030, 1, 1, 14, 0, tzinfo=plus_two)
    await store.create_api_key(business.id, name="k", scopes=[], expires_at=expires)

    [stored] = await store.list_api_keys(business.id)

    assert stored.expires_at == expires
    assert stored.expires_at is not None and stored.expires_at.tzinfo == UTC
    assert stored.expires_at.hour == 12
    assert stored.created_at.tzinfo == UTC


async def test_naive_datetimes_are_refused(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    row, full_key = await store.create_api_key(business.id, name="k", scopes=[])

    with pytest.raises(ValueError):
        await store.authenticate(full_key, now=datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        await store.record_key_use({row.key_id: datetime(2025, 1, 1)})


async def test_a_rolled_key_and_its_successor_both_work_during_the_overlap_only(
    store: Store,
) -> None:
    business = await store.create_business("acme", "Acme")
    old, old_full = await store.create_api_key(
        business.id, name="crm", scopes=["business:read", "participants:read"]
    )
    new, new_full, before = await store.roll_api_key(
        old.key_id, now=NOW, overlap=timedelta(hours=24)
    )

    assert (new.name, new.scopes, new.business_id) == (old.name, old.scopes, business.id)
    assert new.key_id != old.key_id and before.expires_at == NOW + timedelta(hours=24)
    during = NOW + timedelta(hours=23, minutes=59)
    after = NOW + timedelta(hours=24)
    assert await store.authenticate(old_full, now=during) is not None
    assert await store.authenticate(new_full, now=during) is not None
    assert await store.authenticate(old_full, now=after) is None
    assert await store.authenticate(new_full, now=after) is not None


async def test_a_key_that_expires_sooner_than_the_overlap_keeps_its_expiry(
    store: Store,
) -> None:
    business = await store.create_business("acme", "Acme")
    soon = NOW + timedelta(hours=1)
    old, _ = await store.create_api_key(business.id, name="k", scopes=["a"], expires_at=soon)
    new, _, before = await store.roll_api_key(old.key_id, now=NOW, overlap=timedelta(days=7))
    assert before.expires_at == soon and new.expires_at == soon


async def test_a_revoked_or_unknown_key_is_not_rolled(store: Store) -> None:
    business = await store.create_business("acme", "Acme")
    old, _ = await store.create_api_key(business.id, name="k", scopes=["a"])
    await store.revoke_api_key(old.key_id, now=NOW)
    with pytest.raises(KeyNotActive):
        await store.roll_api_key(old.key_id, now=NOW, overlap=timedelta(hours=1))
    with pytest.raises(KeyNotFound):
        await store.roll_api_key("000000000000", now=NOW, overlap=timedelta(hours=1))
    assert len(await store.list_api_keys(business.id)) == 1  # nothing minted
