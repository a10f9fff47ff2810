"""Webhook subscriptions as the operator's graph shows them: `Business.webhookSubscriptions`
and what the webhook mutations answer.

Operator-only: the default policy exposes none of it to API keys.
"""

from __future__ import annotations

import strawberry

from schema.scalars import Instant
from schema.source import WebhookSubscriptionRecord


@strawberry.type(
    description="An endpoint that receives a business's change events (the topics it names), "
    "signed as Standard Webhooks, each payload bounded by the scopes of its API key."
)
class WebhookSubscription:
    record: strawberry.Private[WebhookSubscriptionRecord]

    @strawberry.field(description="The subscription's public id (`wh_…`).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.public_id)

    @strawberry.field(description="Where deliveries are POSTed.")
    def url(self) -> str:
        return self.record.url

    @strawberry.field(description="The change-log topics it receives, e.g. `registration.created`.")
    def topics(self) -> list[str]:
        return list(self.record.topics)

    @strawberry.field(
        description="The key id of the API key whose scopes bound every payload; revoking that "
        "key disables the subscription."
    )
    def api_key(self) -> str:
        return self.record.api_key_id

    @strawberry.field(
        description="Whether events are delivered one at a time in order (true), or several at "
        "once in any order."
    )
    def ordered(self) -> bool:
        return self.record.ordered

    @strawberry.field(description="Whether deliveries are being sent.")
    def enabled(self) -> bool:
        return self.record.enabled

    @strawberry.field(description="Why it is disabled; null while it is enabled.")
    def disabled_reason(self) -> str | None:
        return self.record.disabled_reason

    @strawberry.field(
        description="Until when the previous signing secret still signs beside the current "
        "one, after a rotation; null otherwise."
    )
    def previous_secret_signs_until(self) -> Instant | None:
        return Instant.of(self.record.previous_secret_until)

    @strawberry.field(description="How many deliveries wait to be sent.")
    def pending(self) -> int:
        return self.record.pending

    @strawberry.field(description="How many deliveries failed after every retry.")
    def failed(self) -> int:
        return self.record.failed

    @strawberry.field(description="When the subscription was created.")
    def created_at(self) -> Instant:
        return Instant.at(self.record.created_at)


@strawberry.type(
    description="A subscription and its signing secret (`whsec_…`), shown this once only: it "
    "is stored encrypted."
)
class WebhookSubscriptionWithSecret:
    subscription: WebhookSubscription = strawberry.field(description="The subscription.")
    secret: str = strawberry.field(
        description="The signing secret: store it now, it is not shown again."
    )
