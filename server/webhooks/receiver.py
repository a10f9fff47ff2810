"""A receiver for trying deliveries locally, as `stripe listen` is for Stripe's:
`business-api webhooks listen --secret whsec_… --port P`, or mounted by the demo.

It does what an integrator's endpoint should: verify the raw body, exactly as received,
before parsing anything (the most common verification bug is parsing first), with any of
the subscription's secrets (two while one is rotated), and answer 204 quickly. `GET`
shows the latest verified deliveries; a retry (the same webhook-id) shows once, counted.
"""

from __future__ import annotations

import html
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["MAX_BODY_BYTES", "Verified", "line", "listener", "receiver_app", "run_listener"]

MAX_BODY_BYTES = 1024 * 1024  # Standard Webhooks payloads are advised under 20 KB

_REASONS = {
    "Missing required headers": (
        "missing webhook-id, webhook-timestamp or webhook-signature header"
    ),
    "Invalid Signature Headers": "the webhook-timestamp header is not a Unix time",
    "Message timestamp too old": "the webhook-timestamp is more than 5 minutes old",
    "Message timestamp too new": "the webhook-timestamp is more than 5 minutes ahead",
    "No matching signature found": "no signature matches the secret",
}


@dataclass(frozen=True)
class Verified:
    """A delivery whose signature matched: the Standard Webhooks envelope, unpacked."""

    webhook_id: str
    type: str
    timestamp: str  # the payload's, as sent (ISO 8601)
    data: Any
    received_at: datetime


@dataclass
class _Seen:
    verified: Verified
    count: int = 1


def line(verified: Verified) -> str:
    """One line to print: when, what, which resource, and the webhook-id."""
    data = verified.data
    subject = data.get("id") if isinstance(data, dict) else None
    if not isinstance(subject, str):
        subject = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if len(subject) > 120:
            subject = subject[:119] + "…"
    return f"{verified.timestamp} {verified.type} {subject} ({verified.webhook_id})"


def receiver_app(
    secret: str | list[str],
    on_delivery: Callable[[Verified], None],
    keep: int = 50,
) -> Starlette:
    """An app answering POST on any path (204 verified, 400 with a reason) and GET (the
    latest `keep` verified deliveries). A secret that is not a `whsec_…` key raises here."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("the receiver needs at least one secret")
    try:
        webhooks = [Webhook(each) for each in secrets]
    except Exception as error:  # binascii.Error, EmptyWebhookSecretError
        raise ValueError("a webhook secret is not a whsec_… key") from error
    seen: OrderedDict[str, _Seen] = OrderedDict()

    async def receive(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse("the body is larger than 1 MiB\n", status_code=413)
        headers = dict(request.headers)
        reason = _verify(webhooks, body, headers)
        if reason is not None:
            return PlainTextResponse(reason + "\n", status_code=400)
        # Parsed only now that it is known to be ours.
        verified = _unpacked(body, headers)
        if isinstance(verified, str):
            return PlainTextResponse(verified + "\n", status_code=400)
        if verified.webhook_id in seen:
            seen[verified.webhook_id].count += 1
            seen.move_to_end(verified.webhook_id)
        else:
            seen[verified.webhook_id] = _Seen(verified)
            while len(seen) > keep:
                seen.popitem(last=False)
        on_delivery(verified)
        return Response(status_code=204)

    async def show(request: Request) -> Response:
        return HTMLResponse(_page(list(reversed(seen.values()))))

    async def endpoint(request: Request) -> Response:
        if request.method == "POST":
            return await receive(request)
        return await show(request)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])


def _verify(webhooks: list[Webhook], body: bytes, headers: dict[str, str]) -> str | None:
    """None when a secret verifies the body; else why not, in one line."""
    reason = "no signature matches the secret"
    for webhook in webhooks:
        try:
            webhook.verify(body, headers, json_parse=False)
        except WebhookVerificationError as error:
            reason = _REASONS.get(str(error), str(error))
            continue
        return None
    return reason


def _unpacked(body: bytes, headers: dict[str, str]) -> Verified | str:
    """The envelope `{type, timestamp, data}`, or why it is not one."""
    try:
        payload = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return "the body is not a {type, timestamp, data} object"
    timestamp = payload.get("timestamp")
    if not isinstance(timestamp, str):
        sent = datetime.fromtimestamp(float(headers["webhook-timestamp"]), UTC)
        timestamp = sent.isoformat().replace("+00:00", "Z")
    return Verified(
        webhook_id=headers["webhook-id"],
        type=payload["type"],
        timestamp=timestamp,
        data=payload.get("data"),
        received_at=datetime.now(UTC),
    )


def _page(entries: list[_Seen]) -> str:
    rows = []
    for entry in entries:
        verified = entry.verified
        count = f" <small>×{entry.count}</small>" if entry.count > 1 else ""
        data = json.dumps(verified.data, indent=2, ensure_ascii=False, sort_keys=True)
        rows.append(
            "<section>"
            f"<h2>{html.escape(verified.type)}{count}</h2>"
            f"<p><code>{html.escape(verified.webhook_id)}</code> · "
            f"{html.escape(verified.timestamp)} · received "
            f"{verified.received_at.isoformat(timespec='seconds')}</p>"
            f"<pre>{html.escape(data)}</pre>"
            "</section>"
        )
    body = "\n".join(rows) or "<p>No verified deliveries yet.</p>"
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        "<title>Webhook deliveries</title>"
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}"
        "pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>"
        f"<body><h1>Webhook deliveries</h1>\n{body}\n</body></html>\n"
    )


def listener(
    secret: str | list[str], host: str, port: int, printer: Callable[[str], None]
) -> uvicorn.Server:
    """The uvicorn server `run_listener` runs (a test runs it in a thread, and stops it)."""
    app = receiver_app(secret, lambda verified: printer(line(verified)))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    return uvicorn.Server(config)


def run_listener(
    secret: str | list[str], host: str, port: int, printer: Callable[[str], None]
) -> None:
    """Serve the receiver until interrupted, printing a line per verified delivery."""
    server = listener(secret, host, port, printer)
    printer(f"listening on http://{host}:{port}/ (open it in a browser for the latest)")
    server.run()
