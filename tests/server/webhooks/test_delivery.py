"""Webhook deliveries end to end: emulator changes detected by the sync worker, logged,
written to the outbox in the same transaction, delivered by the worker to a receiver on
a real socket, signed as Standard Webhooks; and what happens when the receiver
misbehaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import WebhookVerificationError

from server.providers.emulated.mutations import Intent
from server.store.models import WebhookDelivery, WebhookSubscription
from server.webhooks.subscriptions import Subscription, SubscriptionError
from tests.server.changes.detection import changes_of, logged_since
from tests.server.conftest import World
from tests.server.test_metrics import scrape, value
from tests.server.webhooks.receivers import FAILS, OK, Cue, Receiver, redirect, throttled
from tests.upstream import SocketUpstream

ALL_TOPICS = [
    f"{kind}.{action}"
    for kind in ("participant", "registration", "purchase")
    for action in ("created", "updated", "deleted")
]
SCRIPT = (Intent.JOIN, Intent.CONSENT, Intent.RENAME, Intent.REGISTER, Intent.PURCHASE)
ROUNDS = 50  # a bound on the delivery rounds a test waits through


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {
        "webhook_allow_private": True,  # the receiver listens on 127.0.0.1
        "webhook_retry_schedule": (0.0, 0.0, 0.0, 0.0),  # retries due at once
        "webhook_timeout_seconds": 1.0,
        "key_rate_limit": 100_000,
        "business_rate_limit": 100_000,
    }


def key_id(world: World, name: str) -> str:
    return world.keys[name].split("_")[1]


async def subscribe(
    world: World, url: str, *, key: str = "tremble", topics: list[str] = ALL_TOPICS
) -> tuple[Subscription, str]:
    return await world.services.webhooks.subscriptions.create(
        "tremble", url, topics, key_id(world, key)
    )


async def changes(world: World, intents: tuple[Intent, ...] = SCRIPT, seed: int = 0) -> None:
    """A watch pass to start from, the changes, then the pass that detects them."""
    sync = world.services.sync
    business = world.business_ids["tremble"]
    for outcome in await sync.sync_all(business_id=business):
        assert outcome.synced, outcome
    assert changes_of(world.emulator("wix"), intents, seed=seed)
    for outcome in await sync.sync_all(business_id=business):
        assert outcome.synced, outcome


async def deliver_all(world: World) -> int:
    """Delivery rounds until nothing is due; how many attempts were made."""
    made = 0
    for _ in range(ROUNDS):
        attempted = await world.services.webhooks.deliverer.deliver_due()
        if not attempted:
            return made
        made += attempted
    raise AssertionError("deliveries still due after the rounds a test allows")


async def delivery_rows(world: World) -> list[WebhookDelivery]:
    async with world.services.engine.connect() as connection:
        return list((await connection.execute(select(WebhookDelivery))).all())


@pytest.fixture
def receiver(upstream: SocketUpstream) -> Any:
    mounted: list[str] = []

    def make(*cues: Cue) -> tuple[Receiver, str]:
        app = Receiver(cues)
        url = upstream.mount(app, "receiver")
        mounted.append(url)
        return app, url + "/hook"

    yield make
    for url in mounted:
        upstream.unmount(url)


async def test_every_event_arrives_once_signed_in_order_with_the_api_s_gids(
    world: World, receiver: Any
) -> None:
    app, url = receiver()
    _, secret = await subscribe(world, url)
    await changes(world)
    await deliver_all(world)
    events = await logged_since(world, "tremble", 0)
    assert events
    delivered = app.unique(secret)  # each verified: signature and timestamp
    assert [(d["type"], d["data"]["id"], d["data"]["seq"]) for d in delivered] == [
        (e.topic, e.record_gid, str(e.seq)) for e in events
    ]
    assert all(d["data"]["participantId"] for d in delivered)
    assert len(app.received) == len(events)  # nothing sent twice
    assert {r.state for r in await delivery_rows(world)} == {"delivered"}


async def test_a_key_without_email_scope_never_sees_an_email(world: World, receiver: Any) -> None:
    app, url = receiver()
    topics = [t for t in ALL_TOPICS if not t.startswith("purchase.")]
    _, secret = await subscribe(world, url, key="tremble-no-email", topics=topics)
    await changes(world, (Intent.JOIN, Intent.REEMAIL, Intent.CONSENT, Intent.RENAME), seed=3)
    await deliver_all(world)
    delivered = app.unique(secret)
    assert delivered
    for received in app.received:
        assert b"@" not in received.body
        assert b"email" not in received.body.lower()  # neither values nor field names


async def test_a_purchase_topic_needs_the_purchases_scope(world: World, receiver: Any) -> None:
    _, url = receiver()
    _, key = await world.services.store.create_api_key(
        world.business_ids["tremble"], name="no purchases", scopes=["participants:read"]
    )
    with pytest.raises(SubscriptionError, match="purchases:read"):
        await world.services.webhooks.subscriptions.create(
            "tremble", url, ["purchase.created"], key.split("_")[1]
        )


async def test_revoking_the_key_stops_its_deliveries(world: World, receiver: Any) -> None:
    app, url = receiver()
    subscription, _ = await subscribe(world, url)
    await world.services.store.revoke_api_key(key_id(world, "tremble"), now=datetime.now(UTC))
    await changes(world)
    assert await deliver_all(world) == 0
    assert app.received == []
    shown = await world.services.webhooks.subscriptions.get(subscription.public_id)
    assert not shown.enabled and "revoked" in (shown.disabled_reason or "")


async def test_failures_are_retried_with_the_same_webhook_id_until_delivered(
    world: World, receiver: Any
) -> None:
    app, url = receiver(FAILS, FAILS, Cue(hang=True), OK)
    subscription, secret = await subscribe(world, url, topics=["participant.created"])
    await changes(world, (Intent.JOIN,))
    await deliver_all(world)
    assert len(app.received) == 4  # two 500s, a hang (timed out), then delivered
    assert len({r.webhook_id for r in app.received}) == 1
    assert [d["type"] for d in app.unique(secret)] == ["participant.created"]
    [row] = await delivery_rows(world)
    assert row.state == "delivered" and row.attempts == 4
    subscriptions = world.services.webhooks.subscriptions
    [delivery] = await subscriptions.deliveries(subscription.public_id)
    tries = delivery.tries
    assert [(t.status, t.error) for t in tries] == [
        (500, None),
        (500, None),
        (None, "timeout"),
        (204, None),
    ]


async def test_retry_after_is_honoured_on_429(world: World, receiver: Any) -> None:
    app, url = receiver(throttled(120))
    await subscribe(world, url, topics=["participant.created"])
    await changes(world, (Intent.JOIN,))
    before = datetime.now(UTC)
    await deliver_all(world)  # the first try; the next is not due for two minutes
    [row] = await delivery_rows(world)
    assert row.state == "pending" and row.attempts == 1
    assert row.next_attempt_at >= before + timedelta(seconds=110)
    assert len(app.received) == 1


async def test_a_redirect_is_a_failure_and_never_followed(world: World, receiver: Any) -> None:
    elsewhere, target = receiver()
    app, url = receiver(redirect(target), redirect(target), redirect(target), redirect(target))
    await subscribe(world, url, topics=["participant.created"])
    await changes(world, (Intent.JOIN,))
    await deliver_all(world)
    assert elsewhere.received == []
    assert len(app.received) == 4  # each try failed; the schedule (4 tries) is spent
    [row] = await delivery_rows(world)
    assert row.state == "failed"


async def test_410_disables_the_subscription_at_once(world: World, receiver: Any) -> None:
    app, url = receiver(Cue(410))
    subscription, _ = await subscribe(world, url, topics=["participant.created"])
    await changes(world, (Intent.JOIN,))
    await deliver_all(world)
    assert len(app.received) == 1
    shown = await world.services.webhooks.subscriptions.get(subscription.public_id)
    assert not shown.enabled and "410" in (shown.disabled_reason or "")


async def test_a_subscription_disabled_when_its_schedule_is_spent_catches_up_in_order(
    world: World, receiver: Any
) -> None:
    app, url = receiver(*[FAILS] * 4)
    subscription, secret = await subscribe(world, url)
    await changes(world)
    await deliver_all(world)
    shown = await world.services.webhooks.subscriptions.get(subscription.public_id)
    assert not shown.enabled and "schedule is spent" in (shown.disabled_reason or "")
    assert len(app.received) == 4  # ordered: only the first event was tried
    app.received.clear()
    await world.services.webhooks.subscriptions.enable(subscription.public_id)
    await deliver_all(world)
    events = await logged_since(world, "tremble", 0)
    assert [int(d["data"]["seq"]) for d in app.unique(secret)] == [e.seq for e in events]


async def test_during_a_rotation_each_delivery_verifies_with_either_secret(
    world: World, receiver: Any
) -> None:
    app, url = receiver()
    subscription, old = await subscribe(world, url, topics=["participant.created"])
    _, new = await world.services.webhooks.subscriptions.rotate_secret(subscription.public_id)
    await changes(world, (Intent.JOIN,))
    await deliver_all(world)
    [during] = app.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert during.verified(old) == during.verified(new)
    async with world.services.engine.begin() as connection:  # the grace period ends
        await connection.execute(
            update(WebhookSubscription).values(
                previous_secret_until=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
    app.received.clear()
    await changes(world, (Intent.JOIN,), seed=9)
    await deliver_all(world)
    [after] = app.received
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    after.verified(new)
    with pytest.raises(WebhookVerificationError):
        after.verified(old)


async def test_the_metrics_count_attempts_and_show_each_outbox_and_the_disabled(
    world: World, receiver: Any
) -> None:
    app, url = receiver(*[FAILS] * 4)
    subscription, _ = await subscribe(world, url)
    await changes(world)
    _, before = await scrape(world)
    waiting = value(
        before,
        "business_api_webhook_outbox_depth",
        subscription=subscription.public_id,
        business="tremble",
    )
    assert waiting == len(await logged_since(world, "tremble", 0))
    await deliver_all(world)
    _, after = await scrape(world)
    assert value(after, "business_api_webhook_subscriptions_disabled") == 1
    assert value(after, "business_api_webhook_attempts_total", outcome="rejected") - value(
        before, "business_api_webhook_attempts_total", outcome="rejected"
    ) == len(app.received)
    assert (
        value(
            after,
            "business_api_webhook_outbox_oldest_seconds",
            subscription=subscription.public_id,
            business="tremble",
        )
        >= 0
    )


async def test_replay_and_redeliver_send_again_with_the_same_webhook_ids(
    world: World, receiver: Any
) -> None:
    app, url = receiver()
    subscription, secret = await subscribe(world, url)
    await changes(world)
    await deliver_all(world)
    first = [r.webhook_id for r in app.received]
    subscriptions = world.services.webhooks.subscriptions
    events = await logged_since(world, "tremble", 0)
    since = events[1].seq  # everything after the second event
    assert await subscriptions.replay(subscription.public_id, since_seq=since) == len(first) - 2
    await deliver_all(world)
    assert [r.webhook_id for r in app.received[len(first) :]] == first[2:]
    [latest, *_] = await subscriptions.deliveries(subscription.public_id)
    await subscriptions.redeliver(latest.public_id)
    await deliver_all(world)
    assert app.received[-1].webhook_id == latest.public_id
    assert app.received[-1].verified(secret)["data"]["seq"] == str(latest.seq)
