"""Webhook subscriptions, as the operator manages them (`business-api webhooks …`, the
operator's GraphQL): bound to one business and one of its API keys, with topics that key
may read, a URL, and a signing secret shown once and kept encrypted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schema.policy.model import Policy
from server.changes.events import TOPICS
from server.observability.metrics import Outboxed
from server.store.crypto import CredentialCipher
from server.store.models import (
    ApiKey,
    Business,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from server.webhooks.payloads import topic_scope
from server.webhooks.signing import new_secret


class SubscriptionError(ValueError):
    """What the operator asked cannot be done; the message says why, in one line."""


@dataclass(frozen=True)
class Subscription:
    public_id: str
    business: str  # its handle
    key_id: str
    url: str
    topics: tuple[str, ...]
    ordered: bool
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    rotating_until: datetime | None  # while the previous secret still signs
    created_at: datetime
    pending: int  # deliveries not yet made
    failed: int  # deliveries whose retries were spent


@dataclass(frozen=True)
class Attempted:
    at: datetime
    status: int | None
    error: str | None
    latency_ms: float
    head: str


@dataclass(frozen=True)
class Delivery:
    public_id: str
    subscription: str
    seq: int
    topic: str
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    tries: tuple[Attempted, ...] = ()


def check_topics(policy: Policy, topics: Sequence[str], scopes: Sequence[str]) -> tuple[str, ...]:
    """The topics, checked: each one known, and readable with the key's scopes."""
    if not topics:
        raise SubscriptionError(f"name at least one topic: {', '.join(TOPICS)}")
    held = {*scopes, *policy.implicit}
    for topic in topics:
        if topic not in TOPICS:
            raise SubscriptionError(f"unknown topic {topic!r}: the topics are {', '.join(TOPICS)}")
        needed = topic_scope(policy, topic)
        if needed is None or needed not in held:
            raise SubscriptionError(
                f"the key cannot read {topic} events: it needs the {needed} scope"
            )
    return tuple(dict.fromkeys(topics))


class Subscriptions:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: CredentialCipher,
        policy: Policy,
        *,
        secret_grace: timedelta = timedelta(days=1),
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._policy = policy
        self._grace = secret_grace

    async def create(
        self, handle: str, url: str, topics: Sequence[str], key_id: str, *, ordered: bool = True
    ) -> tuple[Subscription, str]:
        """A new subscription, and its signing secret (shown once)."""
        secret = new_secret()
        async with self._sessions() as session, session.begin():
            business = await _business(session, handle)
            key = await session.scalar(
                select(ApiKey).where(ApiKey.key_id == key_id, ApiKey.business_id == business.id)
            )
            if key is None:
                raise SubscriptionError(f"{handle} has no API key {key_id!r}: see keys list")
            if key.revoked_at is not None:
                raise SubscriptionError(f"the API key {key_id} is revoked")
            if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
                raise SubscriptionError(f"the API key {key_id} has expired")
            row = WebhookSubscription(
                business_id=business.id,
                api_key_id=key.id,
                url=url,
                topics=list(check_topics(self._policy, topics, key.scopes)),
                secret_encrypted=self._cipher.encrypt(secret),
                ordered=ordered,
                enabled=True,
                created_at=datetime.now(UTC),
            )
            session.add(row)
            await session.flush()
            public_id = row.public_id
        return await self.get(public_id), secret

    async def listed(self, handle: str | None = None) -> list[Subscription]:
        query = _described()
        async with self._sessions() as session:
            if handle is not None:
                query = query.where(
                    WebhookSubscription.business_id == (await _business(session, handle)).id
                )
            rows = list(await session.execute(query.order_by(WebhookSubscription.id)))
        return [_subscription(*row) for row in rows]

    async def get(self, public_id: str) -> Subscription:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    _described().where(WebhookSubscription.public_id == public_id)
                )
            ).first()
        if row is None:
            raise SubscriptionError(f"no webhook subscription {public_id!r}: see webhooks list")
        return _subscription(*row)

    async def update(
        self,
        public_id: str,
        *,
        url: str | None = None,
        topics: Sequence[str] | None = None,
        ordered: bool | None = None,
    ) -> Subscription:
        async with self._sessions() as session, session.begin():
            row = await _row(session, public_id)
            if url is not None:
                row.url = url
            if topics is not None:
                key = await session.get_one(ApiKey, row.api_key_id)
                row.topics = list(check_topics(self._policy, topics, key.scopes))
            if ordered is not None:
                row.ordered = ordered
        return await self.get(public_id)

    async def remove(self, public_id: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.delete(await _row(session, public_id))

    async def disable(
        self, public_id: str, reason: str = "disabled by the operator"
    ) -> Subscription:
        async with self._sessions() as session, session.begin():
            await disable(session, (await _row(session, public_id)).id, reason)
        return await self.get(public_id)

    async def enable(self, public_id: str) -> Subscription:
        """Deliver again: what it missed (its deliveries whose retries were spent, and
        those written while it was disabled) goes out from now, in order."""
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            row = await _row(session, public_id)
            key = await session.get_one(ApiKey, row.api_key_id)
            if key.revoked_at is not None:
                raise SubscriptionError(f"its API key {key.key_id} is revoked: add a new one")
            row.enabled, row.disabled_reason, row.disabled_at = True, None, None
            row.failing_since = None
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.subscription_id == row.id)
                .where(WebhookDelivery.state != "delivered")
                .values(state="pending", attempts=0, next_attempt_at=now, claimed_until=None)
            )
        return await self.get(public_id)

    async def rotate_secret(self, public_id: str) -> tuple[Subscription, str]:
        """A new secret; the current one keeps signing beside it for the grace period."""
        secret = new_secret()
        async with self._sessions() as session, session.begin():
            row = await _row(session, public_id)
            row.previous_secret_encrypted = row.secret_encrypted
            row.previous_secret_until = datetime.now(UTC) + self._grace
            row.secret_encrypted = self._cipher.encrypt(secret)
        return await self.get(public_id), secret

    async def deliveries(
        self, public_id: str, *, failed_only: bool = False, limit: int = 50
    ) -> list[Delivery]:
        """Its latest deliveries, newest first, each with its attempts."""
        async with self._sessions() as session:
            row = await _row(session, public_id)
            query = (
                select(WebhookDelivery)
                .where(WebhookDelivery.subscription_id == row.id)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
            )
            if failed_only:
                query = query.where(WebhookDelivery.state == "failed")
            found = list(await session.scalars(query))
            tries = await _attempts(session, [d.id for d in found])
        return [_delivery(d, public_id, tries.get(d.id, ())) for d in found]

    async def redeliver(self, delivery_id: str) -> Delivery:
        """Send a delivery again, now (the same `webhook-id`)."""
        async with self._sessions() as session, session.begin():
            delivery = await session.scalar(
                select(WebhookDelivery).where(WebhookDelivery.public_id == delivery_id)
            )
            if delivery is None:
                raise SubscriptionError(f"no delivery {delivery_id!r}: see webhooks deliveries")
            _again(delivery)
            subscription = await session.get_one(WebhookSubscription, delivery.subscription_id)
            return _delivery(delivery, subscription.public_id, ())

    async def replay(
        self, public_id: str, *, since_seq: int | None = None, since: datetime | None = None
    ) -> int:
        """Send again every delivery of the subscription after event `since_seq` (or
        written since `since`), in order; how many."""
        async with self._sessions() as session, session.begin():
            row = await _row(session, public_id)
            query = select(WebhookDelivery).where(
                WebhookDelivery.subscription_id == row.id, WebhookDelivery.seq > 0
            )
            if since_seq is not None:
                query = query.where(WebhookDelivery.seq > since_seq)
            if since is not None:
                query = query.where(WebhookDelivery.created_at >= since)
            found = list(await session.scalars(query))
            for delivery in found:
                _again(delivery)
        return len(found)

    async def outboxes(self) -> list[Outboxed]:
        """Every subscription's undelivered deliveries, for the metrics: one query."""
        pending = (
            select(
                WebhookDelivery.subscription_id,
                func.count().label("pending"),
                func.min(WebhookDelivery.created_at).label("oldest"),
            )
            .where(WebhookDelivery.state != "delivered")
            .group_by(WebhookDelivery.subscription_id)
            .subquery()
        )
        query = (
            select(
                WebhookSubscription.public_id,
                Business.handle,
                WebhookSubscription.enabled,
                pending.c.pending,
                pending.c.oldest,
            )
            .join(Business, Business.id == WebhookSubscription.business_id)
            .outerjoin(pending, pending.c.subscription_id == WebhookSubscription.id)
            .order_by(WebhookSubscription.id)
        )
        async with self._sessions() as session:
            rows = list(await session.execute(query))
        return [
            Outboxed(public_id, handle, enabled, int(count or 0), _utc(oldest))
            for public_id, handle, enabled, count, oldest in rows
        ]

    async def signing_secrets(self, public_id: str) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous
        one during its grace period."""
        async with self._sessions() as session:
            row = await _row(session, public_id)
        return signing(self._cipher, row, datetime.now(UTC))


def _utc(moment: datetime | None) -> datetime | None:
    """An aggregate's time: SQLite gives it back as text or without a zone."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def signing(cipher: CredentialCipher, row: WebhookSubscription, now: datetime) -> list[str]:
    secrets = [cipher.decrypt(row.secret_encrypted)]
    until = row.previous_secret_until
    if row.previous_secret_encrypted and until is not None and until > now:
        secrets.append(cipher.decrypt(row.previous_secret_encrypted))
    return secrets


async def disable(session: AsyncSession, subscription_id: int, reason: str) -> None:
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .values(enabled=False, disabled_reason=reason, disabled_at=datetime.now(UTC))
    )


def _again(delivery: WebhookDelivery) -> None:
    delivery.state, delivery.attempts = "pending", 0
    delivery.next_attempt_at, delivery.claimed_until = datetime.now(UTC), None


async def _business(session: AsyncSession, handle: str) -> Business:
    business = await session.scalar(select(Business).where(Business.handle == handle))
    if business is None:
        raise SubscriptionError(f"no business {handle!r}: see businesses list")
    return business


async def _row(session: AsyncSession, public_id: str) -> WebhookSubscription:
    row = await session.scalar(
        select(WebhookSubscription).where(WebhookSubscription.public_id == public_id)
    )
    if row is None:
        raise SubscriptionError(f"no webhook subscription {public_id!r}: see webhooks list")
    return row


def _described() -> Any:
    def count(state: str) -> Any:
        return (
            select(func.count())
            .where(WebhookDelivery.subscription_id == WebhookSubscription.id)
            .where(WebhookDelivery.state == state)
            .scalar_subquery()
        )

    return (
        select(
            WebhookSubscription, Business.handle, ApiKey.key_id, count("pending"), count("failed")
        )
        .join(Business, Business.id == WebhookSubscription.business_id)
        .join(ApiKey, ApiKey.id == WebhookSubscription.api_key_id)
    )


def _subscription(
    row: WebhookSubscription, handle: str, key_id: str, pending: int, failed: int
) -> Subscription:
    now = datetime.now(UTC)
    until = row.previous_secret_until
    return Subscription(
        public_id=row.public_id,
        business=handle,
        key_id=key_id,
        url=row.url,
        topics=tuple(row.topics),
        ordered=row.ordered,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        rotating_until=until if until is not None and until > now else None,
        created_at=row.created_at,
        pending=int(pending or 0),
        failed=int(failed or 0),
    )


async def _attempts(session: AsyncSession, ids: list[int]) -> dict[int, tuple[Attempted, ...]]:
    if not ids:
        return {}
    found: dict[int, list[Attempted]] = {}
    for a in await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(ids))
        .order_by(WebhookAttempt.id)
    ):
        found.setdefault(a.delivery_id, []).append(
            Attempted(a.at, a.status, a.error, a.latency_ms, a.head)
        )
    return {key: tuple(value) for key, value in found.items()}


def _delivery(row: WebhookDelivery, subscription: str, tries: Sequence[Attempted]) -> Delivery:
    return Delivery(
        public_id=row.public_id,
        subscription=subscription,
        seq=row.seq,
        topic=row.topic,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        tries=tuple(tries),
    )


async def trim(sessions: async_sessionmaker[AsyncSession], before: datetime) -> int:
    """Forget deliveries written before `before` (with their attempts)."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.created_at < before)
        )
    return int(getattr(result, "rowcount", 0) or 0)
