"""Webhook subscriptions through the operator's endpoint: the mutations and
`Business.webhookSubscriptions`, none of which an API key reaches."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.server.conftest import World
from tests.server.test_admin import _admin

URL = "http://127.0.0.1:9/hooks"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{43}=")
FIELDS = """id url topics apiKey ordered enabled disabledReason previousSecretSignsUntil
  pending failed createdAt"""
CREATE = f"""mutation($business: ID!, $url: String!, $topics: [String!]!, $key: String!,
  $ordered: Boolean) {{
  createWebhookSubscription(business: $business, url: $url, topics: $topics, apiKey: $key,
    ordered: $ordered) {{ secret subscription {{ {FIELDS} }} }} }}"""
LISTED = f"{{ businesses {{ handle id webhookSubscriptions {{ {FIELDS} }} }} }}"
UPDATE = f"""mutation($id: ID!, $url: String, $topics: [String!], $ordered: Boolean) {{
  updateWebhookSubscription(id: $id, url: $url, topics: $topics, ordered: $ordered) {{
    {FIELDS} }} }}"""
DISABLE = f"""mutation($id: ID!, $reason: String) {{
  disableWebhookSubscription(id: $id, reason: $reason) {{ {FIELDS} }} }}"""
ENABLE = f"mutation($id: ID!) {{ enableWebhookSubscription(id: $id) {{ {FIELDS} }} }}"
DELETE = "mutation($id: ID!) { deleteWebhookSubscription(id: $id) { id } }"
ROTATE = f"""mutation($id: ID!) {{ rotateWebhookSecret(id: $id) {{ secret
  subscription {{ {FIELDS} }} }} }}"""


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"webhook_allow_private": True}  # the URLs here are local


async def _business(world: World) -> str:
    body = (await _admin(world, "{ businesses { id handle } }")).json()
    return next(b["id"] for b in body["data"]["businesses"] if b["handle"] == "tremble")


def _key_id(world: World, name: str = "tremble") -> str:
    return world.keys[name].split("_")[1]


async def _create(world: World, **given: Any) -> Any:
    variables = {
        "business": await _business(world),
        "url": URL,
        "topics": ["registration.created"],
        "key": _key_id(world),
    } | given
    return (await _admin(world, CREATE, variables)).json()


async def _subscriptions(world: World) -> list[dict[str, Any]]:
    body = (await _admin(world, LISTED)).json()
    assert "errors" not in body, body
    tremble = next(b for b in body["data"]["businesses"] if b["handle"] == "tremble")
    return tremble["webhookSubscriptions"]  # type: ignore[no-any-return]


def _refused(body: Any) -> str:
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "\n" not in error["message"]
    return error["message"]  # type: ignore[no-any-return]


async def test_creating_a_subscription_answers_its_secret_once(world: World) -> None:
    body = await _create(world, topics=["registration.created", "purchase.created"])
    assert "errors" not in body, body
    created = body["data"]["createWebhookSubscription"]
    assert SECRET.fullmatch(created["secret"])
    subscription = created["subscription"]
    assert subscription == {
        "id": subscription["id"],
        "url": URL,
        "topics": ["registration.created", "purchase.created"],
        "apiKey": _key_id(world),
        "ordered": True,
        "enabled": True,
        "disabledReason": None,
        "previousSecretSignsUntil": None,
        "pending": 0,
        "failed": 0,
        "createdAt": subscription["createdAt"],
    }
    assert await _subscriptions(world) == [subscription]
    listed = (await _admin(world, LISTED)).text
    assert created["secret"] not in listed and "whsec_" not in listed


async def test_a_purchase_topic_on_a_key_without_purchases_read_is_refused_naming_it(
    world: World,
) -> None:
    row, _ = await world.services.store.create_api_key(
        world.business_ids["tremble"],
        name="registrations only",
        scopes=["participants:read", "registrations:read"],
    )
    body = await _create(world, key=row.key_id, topics=["purchase.created"])
    assert _refused(body) == (
        "the key cannot read purchase.created events: it needs the purchases:read scope"
    )
    assert await _subscriptions(world) == []


async def test_an_unknown_topic_key_or_url_is_bad_user_input(world: World) -> None:
    unknown = _refused(await _create(world, topics=["registration.made"]))
    assert unknown.startswith("unknown topic 'registration.made': the topics are ")
    nokey = _refused(await _create(world, key="0123456789ab"))
    assert nokey == "tremble has no API key '0123456789ab': see keys list"
    other = _refused(await _create(world, key=_key_id(world, "acme")))
    assert other.startswith("tremble has no API key ")
    url = _refused(await _create(world, url="ftp://127.0.0.1/hooks"))
    assert url == "The URL must use https or http."
    assert await _subscriptions(world) == []


async def test_a_subscription_is_updated_disabled_enabled_rotated_and_deleted(
    world: World,
) -> None:
    created = (await _create(world))["data"]["createWebhookSubscription"]
    sid, first = created["subscription"]["id"], created["secret"]

    updated = (
        await _admin(
            world,
            UPDATE,
            {"id": sid, "topics": ["registration.deleted"], "ordered": False},
        )
    ).json()["data"]["updateWebhookSubscription"]
    assert updated["topics"] == ["registration.deleted"] and updated["ordered"] is False
    assert updated["url"] == URL
    refused = (await _admin(world, UPDATE, {"id": sid, "url": "hooks"})).json()
    assert _refused(refused).startswith("The URL must use https or http")

    disabled = (await _admin(world, DISABLE, {"id": sid, "reason": "moving"})).json()
    assert disabled["data"]["disableWebhookSubscription"]["enabled"] is False
    assert (await _subscriptions(world))[0]["disabledReason"] == "moving"
    by_default = (await _admin(world, DISABLE, {"id": sid})).json()
    assert by_default["data"]["disableWebhookSubscription"]["disabledReason"] == (
        "disabled by the operator"
    )
    enabled = (await _admin(world, ENABLE, {"id": sid})).json()
    assert enabled["data"]["enableWebhookSubscription"]["enabled"] is True
    assert enabled["data"]["enableWebhookSubscription"]["disabledReason"] is None

    rotated = (await _admin(world, ROTATE, {"id": sid})).json()["data"]["rotateWebhookSecret"]
    assert SECRET.fullmatch(rotated["secret"]) and rotated["secret"] != first
    assert rotated["subscription"]["previousSecretSignsUntil"].endswith("Z")

    deleted = (await _admin(world, DELETE, {"id": sid})).json()
    assert deleted["data"]["deleteWebhookSubscription"]["id"] == sid
    assert await _subscriptions(world) == []
    again = (await _admin(world, DELETE, {"id": sid})).json()
    assert _refused(again) == f"no webhook subscription {sid!r}: see webhooks list"


async def test_revoking_the_key_disables_its_subscription_with_the_reason(world: World) -> None:
    sid = (await _create(world))["data"]["createWebhookSubscription"]["subscription"]["id"]
    revoked = await _admin(
        world,
        "mutation($k: String!) { revokeApiKey(keyId: $k) { revokedAt } }",
        {"k": _key_id(world)},
    )
    assert "errors" not in revoked.json()
    [listed] = await _subscriptions(world)
    assert listed["enabled"] is False and "revoked" in listed["disabledReason"]
    assert "revoked" in _refused((await _admin(world, ENABLE, {"id": sid})).json())


async def test_an_api_key_reaches_no_webhook_field_or_mutation(world: World) -> None:
    await _create(world)
    for query in (
        "{ activeBusiness { webhookSubscriptions { id url } } }",
        'mutation { deleteWebhookSubscription(id: "wh_x") { id } }',
        'mutation { rotateWebhookSecret(id: "wh_x") { secret } }',
    ):
        body = (await world.query(query)).json()
        assert "data" not in body or body["data"] is None, (query, body)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (query, body)
    assert len(await _subscriptions(world)) == 1
