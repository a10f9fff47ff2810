"""The delivery worker, in every `serve` process: claims due deliveries from the outbox,
signs and sends each, records the attempt, and schedules the next or disables the
endpoint.

Claiming is one statement, `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`: on
PostgreSQL each process skips the rows another holds, on SQLite the statement takes the
write lock before it reads. A claim lasts past the send's timeout, so a process killed
mid-send leaves its deliveries to be claimed again (at least once, never lost). An
ordered subscription (the default) has only its oldest undelivered event claimable, so
its events arrive in sequence order, one at a time; an unordered one takes up to
`BUSINESS_API_WEBHOOK_ENDPOINT_CONCURRENCY` at once.

An attempt ends in one of: delivered (2xx); the endpoint gone (410: disabled at once);
or failed (anything else: an error status, a redirect, which is never followed, a
timeout, a refused address), retried after the schedule's next delay with jitter, or
after `Retry-After` when a 429 or 503 asks for longer. When the schedule is spent, or the
endpoint has failed for `BUSINESS_API_WEBHOOK_DISABLE_AFTER_DAYS` without a success, the
subscription is disabled with the reason; enabling it again delivers what it missed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from sqlalchemy import exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from server.observability.metrics import WEBHOOK_ATTEMPT_SECONDS, WEBHOOK_DELIVERIES
from server.store.crypto import CredentialCipher
from server.store.models import (
    ApiKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from server.webhooks.sending import Answer
from server.webhooks.signing import signed_headers
from server.webhooks.subscriptions import disable, signing

log = logging.getLogger(__name__)

RETRY_AFTER_LONGEST = timedelta(days=1)  # a receiver asking for more is asked again then
CLAIM_MARGIN = timedelta(seconds=5)  # a claim outlasts the send's timeout by this
BATCH = 50  # deliveries claimed at a time
CHAIN = 100  # an ordered subscription's events sent one after another in one round


class Sender(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Claimed:
    id: int
    public_id: str
    subscription_id: int
    subscription: str
    url: str
    ordered: bool
    attempts: int
    body: bytes
    signing: Sequence[str]


@dataclass(frozen=True)
class Schedule:
    delays: Sequence[float]  # seconds before each try, after the one before
    disable_after: timedelta
    jitter: float = 0.1

    def next_try(
        self, attempts: int, now: datetime, asked: float | None, rng: random.Random
    ) -> datetime | None:
        """When to try again after `attempts` failed tries (None: the schedule is spent)."""
        if attempts >= len(self.delays):
            return None
        delay = self.delays[attempts] * rng.uniform(1 - self.jitter, 1 + self.jitter)
        if asked is not None:
            delay = max(delay, min(asked, RETRY_AFTER_LONGEST.total_seconds()))
        return now + timedelta(seconds=delay)


class Deliverer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: CredentialCipher,
        sender: Callable[[], Sender],
        schedule: Schedule,
        *,
        timeout: float,
        endpoint_concurrency: int,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._new_sender = sender  # made on first use, on the event loop that sends
        self._sender: Sender | None = None
        self._schedule = schedule
        self._claim_for = timedelta(seconds=timeout) + CLAIM_MARGIN
        self._per_endpoint = endpoint_concurrency
        self._slots: dict[int, asyncio.Semaphore] = {}
        self._rng = rng or random.Random()
        self.owner = uuid.uuid4().hex[:12]

    async def claim(self, limit: int = BATCH) -> list[Claimed]:
        """Claim up to `limit` due deliveries of enabled subscriptions whose key stands."""
        async with self._sessions() as session, session.begin():
            return await self._claim(session, limit)

    async def _claim(
        self, session: AsyncSession, limit: int, subscription_id: int | None = None
    ) -> list[Claimed]:
        """Claim, in the session's transaction, up to `limit` due deliveries (of one
        subscription: its next in turn)."""
        now = datetime.now(UTC)
        candidate, earlier = aliased(WebhookDelivery), aliased(WebhookDelivery)
        # An ordered subscription's oldest undelivered event goes first (a ping, seq 0,
        # goes whenever).
        head = ~exists().where(
            earlier.subscription_id == candidate.subscription_id,
            earlier.state == "pending",
            earlier.seq > 0,
            earlier.seq < candidate.seq,
        )
        in_turn = or_(WebhookSubscription.ordered.is_(False), candidate.seq == 0, head)
        due = (
            select(candidate.id)
            .join(WebhookSubscription, WebhookSubscription.id == candidate.subscription_id)
            .join(ApiKey, ApiKey.id == WebhookSubscription.api_key_id)
            .where(candidate.state == "pending", candidate.next_attempt_at <= now)
            .where(or_(candidate.claimed_until.is_(None), candidate.claimed_until < now))
            .where(WebhookSubscription.enabled.is_(True), ApiKey.revoked_at.is_(None))
            .where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
            .where(in_turn)
            .order_by(candidate.next_attempt_at, candidate.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=candidate)
        )
        if subscription_id is not None:
            due = due.where(candidate.subscription_id == subscription_id)
        free = or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now)
        ids = list(
            await session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(due), free)
                .values(claimed_by=self.owner, claimed_until=now + self._claim_for)
                .returning(WebhookDelivery.id)
            )
        )
        if not ids:
            return []
        rows = list(
            await session.execute(
                select(WebhookDelivery, WebhookSubscription)
                .join(
                    WebhookSubscription,
                    WebhookSubscription.id == WebhookDelivery.subscription_id,
                )
                .where(WebhookDelivery.id.in_(ids))
                .order_by(WebhookDelivery.seq, WebhookDelivery.id)
            )
        )
        return [self._claimed(delivery, subscription, now) for delivery, subscription in rows]

    async def send_now(self, public_id: str) -> Answer:
        """Claim one delivery and send it at once, whatever else is due and whether or not
        its subscription is enabled (`webhooks test`: the operator asked for it). One that
        fails is retried on the schedule like any other."""
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            found = (
                await session.execute(
                    select(WebhookDelivery, WebhookSubscription)
                    .join(
                        WebhookSubscription,
                        WebhookSubscription.id == WebhookDelivery.subscription_id,
                    )
                    .where(WebhookDelivery.public_id == public_id)
                )
            ).first()
            if found is None:
                raise LookupError(f"no delivery {public_id!r}")
            delivery, subscription = found
            delivery.claimed_by, delivery.claimed_until = self.owner, now + self._claim_for
            claimed = self._claimed(delivery, subscription, now)
        answer, following = await self.attempt(claimed)
        if following is not None:  # an ordered subscription's next event: the worker's
            await self._release(following)
        return answer

    def _claimed(
        self, delivery: WebhookDelivery, subscription: WebhookSubscription, now: datetime
    ) -> Claimed:
        return Claimed(
            id=delivery.id,
            public_id=delivery.public_id,
            subscription_id=subscription.id,
            subscription=subscription.public_id,
            url=subscription.url,
            ordered=subscription.ordered,
            attempts=delivery.attempts,
            body=orjson.dumps(delivery.payload),
            signing=signing(self._cipher, subscription, now),
        )

    async def attempt(self, claimed: Claimed) -> tuple[Answer, Claimed | None]:
        """Sign and send one claimed delivery; record how it went. Delivered, an ordered
        subscription's next event in turn is claimed in the same transaction: what to
        send next (None: nothing due, or not ordered)."""
        now = datetime.now(UTC)
        headers = signed_headers(claimed.public_id, now, claimed.body, claimed.signing)
        if self._sender is None:
            self._sender = self._new_sender()
        answer = await self._sender.post(claimed.url, claimed.body, headers)
        outcome = _outcome(answer)
        WEBHOOK_DELIVERIES.labels(outcome).inc()
        WEBHOOK_ATTEMPT_SECONDS.observe(answer.latency_ms / 1000)
        following = await self._record(claimed, answer, outcome, datetime.now(UTC))
        return answer, following

    async def _record(
        self, claimed: Claimed, answer: Answer, outcome: str, now: datetime
    ) -> Claimed | None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                insert(WebhookAttempt).values(
                    delivery_id=claimed.id,
                    at=now,
                    status=answer.status,
                    error=answer.error,
                    latency_ms=answer.latency_ms,
                    head=answer.head[:256],
                )
            )
            values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
            if outcome == "delivered":
                values |= {
                    "state": "delivered",
                    "delivered_at": now,
                    "attempts": claimed.attempts + 1,
                }
                await _succeeded(session, claimed.subscription_id)
            elif outcome == "gone":
                # Kept pending: enabling the subscription again delivers it.
                values |= {"attempts": claimed.attempts + 1, "next_attempt_at": now}
                await disable(session, claimed.subscription_id, "the endpoint answered 410 Gone")
            else:
                attempts = claimed.attempts + 1
                asked = answer.retry_after if answer.status in (429, 503) else None
                later = self._schedule.next_try(attempts, now, asked, self._rng)
                since = await _failing_since(session, claimed.subscription_id, now)
                values |= {"attempts": attempts}
                if later is None:
                    values["state"] = "failed"
                    await disable(session, claimed.subscription_id, _gave_up(attempts, answer))
                elif now - since >= self._schedule.disable_after:
                    values["next_attempt_at"] = later
                    days = self._schedule.disable_after.total_seconds() / 86400
                    reason = f"deliveries failed for {days:g} days; the last: {_said(answer)}"
                    await disable(session, claimed.subscription_id, reason)
                else:
                    values["next_attempt_at"] = later
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == claimed.id).values(**values)
            )
            if outcome == "delivered" and claimed.ordered:
                [*following] = await self._claim(session, 1, claimed.subscription_id)
                return following[0] if following else None
            return None

    async def deliver_due(self) -> int:
        """Claim what is due and send it, each endpoint up to its concurrency; how many
        were attempted."""
        claimed = await self.claim()
        if claimed:
            await asyncio.gather(*(self._one(c) for c in claimed))
        return len(claimed)

    async def _one(self, claimed: Claimed) -> None:
        slots = self._slots.setdefault(
            claimed.subscription_id, asyncio.Semaphore(1 if claimed.ordered else self._per_endpoint)
        )
        async with slots:
            current: Claimed | None = claimed
            for _ in range(CHAIN):  # then the next round: other subscriptions' turn
                if current is None:
                    return
                sending = current
                try:
                    _, current = await self.attempt(sending)
                except Exception:  # the store failed: the claim runs out, it goes again
                    log.exception("webhook delivery %s could not be recorded", sending.public_id)
                    return
            if current is not None:  # claimed, not sent: free for the next round
                await self._release(current)

    async def _release(self, claimed: Claimed) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == claimed.id)
                .values(claimed_by=None, claimed_until=None)
            )

    async def close(self) -> None:
        if self._sender is not None:
            await self._sender.aclose()
            self._sender = None

    async def run(self, idle_seconds: float = 1.0) -> None:
        """The worker of `serve`: deliver what is due, and look again after `idle_seconds`
        when nothing was."""
        while True:
            try:
                busy = await self.deliver_due()
            except Exception:
                log.exception("webhook deliveries could not be claimed")
                busy = 0
            if not busy:
                await asyncio.sleep(idle_seconds)


def _outcome(answer: Answer) -> str:
    if answer.delivered:
        return "delivered"
    if answer.status == 410:
        return "gone"
    if answer.status is not None and 300 <= answer.status < 400:
        return "redirected"
    if answer.status is not None:
        return "rejected"
    return answer.error or "failed"


def _said(answer: Answer) -> str:
    if answer.status is not None:
        return f"HTTP {answer.status}"
    return answer.error or "no answer"


def _gave_up(attempts: int, answer: Answer) -> str:
    spent = f"deliveries failed {attempts} times, the retry schedule is spent"
    return f"{spent}; the last: {_said(answer)}"


async def _succeeded(session: AsyncSession, subscription_id: int) -> None:
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .values(failing_since=None)
    )


async def _failing_since(session: AsyncSession, subscription_id: int, now: datetime) -> datetime:
    """Since when the subscription's attempts fail (this one, if the last succeeded)."""
    subscription = await session.get_one(WebhookSubscription, subscription_id)
    if subscription.failing_since is None:
        subscription.failing_since = now
    return subscription.failing_since
