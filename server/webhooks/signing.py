"""Standard Webhooks signatures (https://www.standardwebhooks.com), made with the
`standardwebhooks` package: `webhook-id` (the delivery's, the same on every retry),
`webhook-timestamp` (this attempt's), `webhook-signature` (`v1,<base64>` per secret,
space-separated: during a rotation the old secret signs beside the new one, so a receiver
verifies with either)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

PREFIX = "whsec_"


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(
    webhook_id: str, at: datetime, body: bytes, signing: Sequence[str]
) -> dict[str, str]:
    signatures = " ".join(Webhook(secret).sign(webhook_id, at, body) for secret in signing)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "business-api-webhooks",
    }
