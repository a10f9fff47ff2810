"""The outbox: a delivery per subscription and event, written in the transaction that
logs the event, so an event is never logged without its deliveries nor delivered
without being logged (a process killed at any moment loses neither).

Every subscription of the business whose topics take the event gets one, enabled or not
(a disabled one catches up, in order, once enabled again), unless its API key is revoked
or expired. The body is made now, bounded by the key's scopes (`payloads.py`): the change
log keeps no record's values, so a delivery carries what the record looked like when the
change was detected.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from schema.policy.model import Policy
from server.changes.events import Change
from server.store.models import ApiKey, WebhookDelivery, WebhookSubscription, new_delivery_public_id
from server.webhooks.payloads import body, readable_by

CHUNK = 500  # rows per INSERT: each statement's parameters stay bounded


class Outbox:
    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    async def enqueue(
        self,
        session: AsyncSession,
        business_id: int,
        changes: Sequence[Change],
        seqs: Sequence[int],
    ) -> int:
        """Write the deliveries of logged `changes` (numbered `seqs`) in the session's
        transaction; how many."""
        now = datetime.now(UTC)
        subscriptions = list(
            await session.execute(
                select(WebhookSubscription.id, WebhookSubscription.topics, ApiKey.scopes)
                .join(ApiKey, ApiKey.id == WebhookSubscription.api_key_id)
                .where(WebhookSubscription.business_id == business_id)
                .where(ApiKey.revoked_at.is_(None))
                .where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
                .order_by(WebhookSubscription.id)
            )
        )
        rows: list[dict[str, Any]] = []
        for subscription_id, topics, scopes in subscriptions:
            readable = readable_by(self._policy, scopes)
            for change, seq in zip(changes, seqs, strict=True):
                if change.topic not in topics:
                    continue
                payload = body(change, seq, readable)
                if payload is None:
                    continue
                rows.append(
                    {
                        "public_id": new_delivery_public_id(),
                        "subscription_id": subscription_id,
                        "seq": seq,
                        "topic": change.topic,
                        "payload": payload,
                        "state": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
        for start in range(0, len(rows), CHUNK):
            await session.execute(insert(WebhookDelivery), rows[start : start + CHUNK])
        return len(rows)
