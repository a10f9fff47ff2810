"""What the operator's two tools (`business-api webhooks …` and the operator's GraphQL)
share beyond the `Subscriptions` repository: checking a URL before it is stored, and the
`ping` a `webhooks test` sends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.store.models import WebhookDelivery, WebhookSubscription
from server.webhooks.payloads import ping
from server.webhooks.sending import check_url
from server.webhooks.subscriptions import SubscriptionError


async def url_problem(url: str, *, allow_private: bool) -> str | None:
    """What keeps deliveries from going to `url`, in one line (None: nothing): its form,
    then the addresses it resolves to, as the sender checks them before each delivery."""
    return await check_url(url, allow_private=allow_private)


async def write_ping(sessions: async_sessionmaker[AsyncSession], public_id: str) -> str:
    """Write a `ping` delivery (seq 0, sent whatever the subscription's order) for the
    subscription; its public id."""
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        subscription_id = await session.scalar(
            select(WebhookSubscription.id).where(WebhookSubscription.public_id == public_id)
        )
        if subscription_id is None:
            raise SubscriptionError(f"no webhook subscription {public_id!r}: see webhooks list")
        delivery = WebhookDelivery(
            subscription_id=subscription_id,
            seq=0,
            topic="ping",
            payload=ping(public_id, now),
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(delivery)
        await session.flush()
        return delivery.public_id
