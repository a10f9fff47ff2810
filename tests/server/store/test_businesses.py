"""Businesses: handle rules, uniqueness, lookups."""

from __future__ import annotations

import re
from datetime import UTC

import pytest

from server.store.repository import HandleTaken, InvalidHandle, Store, StoreError


async def test_a_created_business_can_be_found_by_handle_and_by_id(store: Store) -> None:
    created = await store.create_business("acme-events", "Acme Events")

    assert re.fullmatch(r"biz_[0-9a-f]{8}", created.public_id)
    assert created.rate_limit_per_minute is None
    assert created.created_at.tzinfo == UTC
    assert await store.get_business("acme-events") == created
    assert await store.get_business_by_id(created.id) == created
    assert await store.get_business("nobody") is None
    assert await store.get_business_by_id(created.id + 1000) is None


async def test_businesses_are_listed_in_creation_order(store: Store) -> None:
    first = await store.create_business("b-first", "First")
    second = await store.create_business("a-second", "Second")

    assert await store.list_businesses() == [first, second]


@pytest.mark.parametrize(
    "handle",
    ["", "-acme", "acme-", "Acme", "acme_events", "acme events", "a" * 41, "ácme", "acme\n"],
)
async def test_an_invalid_handle_is_refused(store: Store, handle: str) -> None:
    with pytest.raises(InvalidHandle):
        await store.create_business(handle, "Acme")
    assert await store.list_businesses() == []


@pytest.mark.parametrize("handle", ["a", "a1", "acme-events", "a" * 40, "0-0"])
async def test_a_valid_handle_is_accepted(store: Store, handle: str) -> None:
    assert (await store.create_business(handle, "Acme")).handle == handle


async def test_a_duplicate_handle_is_refused(store: Store) -> None:
    await store.create_business("acme", "Acme")

    with pytest.raises(HandleTaken):
        await store.create_business("acme", "Another Acme")
    assert len(await store.list_businesses()) == 1


def test_store_errors_share_a_base_class() -> None:
    assert issubclass(HandleTaken, StoreError)
    assert issubclass(InvalidHandle, StoreError)


async def test_a_business_rate_limit_can_be_set_and_reset(store: Store) -> None:
    business = await store.create_business("limited", "Limited")
    assert business.rate_limit_per_minute is None
    assert (await store.set_rate_limit(business.id, 30)).rate_limit_per_minute == 30
    assert (await store.get_business("limited")).rate_limit_per_minute == 30  # type: ignore[union-attr]
    assert (await store.set_rate_limit(business.id, None)).rate_limit_per_minute is None
    with pytest.raises(ValueError):
        await store.set_rate_limit(business.id, 0)
