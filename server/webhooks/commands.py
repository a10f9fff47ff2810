"""`business-api webhooks …`: the operator's commands for webhook subscriptions.

As with keys, a signing secret goes to stdout alone on its line, once (`add`,
`rotate-secret`); everything else goes to stderr, and tables to stdout.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from server.cli_base import (
    STORE_SETTINGS,
    StoreCommands,
    _guarded,
    _print_rows,
    _run,
    _say,
    _settings,
    _when,
    _with_services,
)
from server.settings import settings_help
from server.webhooks import BY_OPERATOR

if TYPE_CHECKING:
    from server.webhooks.subscriptions import Delivery, Subscription

LISTEN_PORT = 8787
# What `add` and `update` read besides the store's settings: whether a URL may be local.
URL_SETTINGS = settings_help((*STORE_SETTINGS, "webhook_allow_private"))


@click.group(cls=StoreCommands)
def webhooks() -> None:
    """Deliver the change log to integrators' endpoints.

    A subscription sends a business's change events (the topics it names) to a URL,
    signed as Standard Webhooks with a secret shown once, each payload bounded by the
    scopes of the API key it is bound to."""


async def _on_store(work: Callable[[Any], Awaitable[None]]) -> None:
    """Run `work` on the store; a subscription error ends the command with its line."""
    from server.webhooks.subscriptions import SubscriptionError

    try:
        await _with_services(_settings(), work)
    except SubscriptionError as error:
        raise click.ClickException(f"{error}.") from None


def _topics(given: str) -> list[str]:
    return [topic.strip() for topic in given.split(",") if topic.strip()]


def _row(s: Subscription) -> dict[str, Any]:
    return {
        "id": s.public_id,
        "business": s.business,
        "url": s.url,
        "topics": ",".join(s.topics),
        "key": s.key_id,
        "state": "ENABLED" if s.enabled else "disabled",
        "pending": s.pending,
        "failed": s.failed,
        "disabled_reason": s.disabled_reason or "-",
    }


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


@webhooks.command("add", epilog=URL_SETTINGS)
@click.option("--business", "handle", required=True, help="The business's handle.")
@click.option("--url", required=True, help="Where deliveries are POSTed (https).")
@click.option(
    "--topics",
    required=True,
    help="Comma-separated topics, e.g. registration.created,registration.deleted.",
)
@click.option(
    "--key",
    "key_id",
    required=True,
    help="The id of the business's API key whose scopes bound every payload (keys list).",
)
@click.option(
    "--unordered",
    is_flag=True,
    help="Deliver several events at once, in any order (default: one at a time, in order).",
)
@_run
async def webhooks_add(handle: str, url: str, topics: str, key_id: str, unordered: bool) -> None:
    """Subscribe a URL to a business's change events.

    Check the URL, then print the subscription's signing secret on stdout, once: it is
    stored encrypted and not shown again. Each topic must be readable with the key's
    scopes (a purchase topic needs purchases:read)."""
    from server.webhooks.operating import url_problem

    async def work(services: Any) -> None:
        problem = await url_problem(url, allow_private=services.settings.webhook_allow_private)
        if problem:
            raise click.ClickException(f"{problem[:1].upper()}{problem[1:]} (--url).")
        subscription, secret = await services.webhooks.subscriptions.create(
            handle, url, _topics(topics), key_id, ordered=not unordered
        )
        order = "in order" if subscription.ordered else "unordered"
        _say(
            f"Created webhook subscription {subscription.public_id} for @{handle}: "
            f"{', '.join(subscription.topics)} to {subscription.url} ({order}, key "
            f"{subscription.key_id})."
        )
        _say("Its signing secret follows; store it now: it is not shown again.")
        click.echo(secret)
        _say(
            f"To try it: business-api webhooks listen --secret whsec_… --port {LISTEN_PORT} "
            f"(with the secret above) receives and verifies deliveries; then "
            f"business-api webhooks test {subscription.public_id} sends a ping."
        )

    await _on_store(work)


@webhooks.command("list")
@click.option("--business", "handle", default=None, help="Only this business's subscriptions.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per subscription.")
@_run
async def webhooks_list(handle: str | None, as_json: bool) -> None:
    """List webhook subscriptions.

    Every subscription: its business, URL, topics, API key, whether it is enabled (and
    why not), its deliveries pending and failed."""

    async def work(services: Any) -> None:
        listed = await services.webhooks.subscriptions.listed(handle)
        _print_rows([_row(s) for s in listed], as_json)

    await _on_store(work)


@webhooks.command("show")
@click.argument("subscription_id")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@_run
async def webhooks_show(subscription_id: str, as_json: bool) -> None:
    """Show one subscription.

    One subscription, with its order, when it was created, and until when a rotated
    secret still signs beside the new one."""

    async def work(services: Any) -> None:
        s = await services.webhooks.subscriptions.get(subscription_id)
        row = _row(s) | {
            "ordered": s.ordered,
            "created": _utc(s.created_at),
            "disabled_at": _utc(s.disabled_at),
            "previous_secret_signs_until": _utc(s.rotating_until),
        }
        if as_json:
            _print_rows([row], as_json)
            return
        for name, value in row.items():
            click.echo(f"{name.replace('_', ' ')}: {value}")

    await _on_store(work)


@webhooks.command("update", epilog=URL_SETTINGS)
@click.argument("subscription_id")
@click.option("--url", default=None, help="A new URL (checked as on add).")
@click.option("--topics", default=None, help="The new comma-separated topics (all of them).")
@click.option("--ordered/--unordered", default=None, help="Deliver one at a time in order, or not.")
@_run
async def webhooks_update(
    subscription_id: str, url: str | None, topics: str | None, ordered: bool | None
) -> None:
    """Change a subscription's URL, topics or order."""
    from server.webhooks.operating import url_problem

    if url is None and topics is None and ordered is None:
        raise click.UsageError("Give --url, --topics, or --ordered/--unordered.")

    async def work(services: Any) -> None:
        if url is not None:
            allow = services.settings.webhook_allow_private
            problem = await url_problem(url, allow_private=allow)
            if problem:
                raise click.ClickException(f"{problem[:1].upper()}{problem[1:]} (--url).")
        s = await services.webhooks.subscriptions.update(
            subscription_id,
            url=url,
            topics=_topics(topics) if topics is not None else None,
            ordered=ordered,
        )
        order = "in order" if s.ordered else "unordered"
        _say(f"Updated {s.public_id}: {', '.join(s.topics)} to {s.url} ({order}).")

    await _on_store(work)


@webhooks.command("remove")
@click.argument("subscription_id")
@_run
async def webhooks_remove(subscription_id: str) -> None:
    """Remove a subscription and its deliveries."""

    async def work(services: Any) -> None:
        await services.webhooks.subscriptions.remove(subscription_id)
        _say(f"Removed webhook subscription {subscription_id}.")

    await _on_store(work)


@webhooks.command("enable")
@click.argument("subscription_id")
@_run
async def webhooks_enable(subscription_id: str) -> None:
    """Deliver again, what it missed first.

    Enable a subscription: what it missed (failed deliveries, and those written while it
    was disabled) is sent from now, in order."""

    async def work(services: Any) -> None:
        s = await services.webhooks.subscriptions.enable(subscription_id)
        waiting = f"{s.pending} deliver{'y' if s.pending == 1 else 'ies'}"
        _say(f"Enabled {s.public_id}: {waiting} will now be sent.")

    await _on_store(work)


@webhooks.command("disable")
@click.argument("subscription_id")
@click.option("--reason", default=BY_OPERATOR, show_default=True, help="Why, for `list`.")
@_run
async def webhooks_disable(subscription_id: str, reason: str) -> None:
    """Stop delivering; events are kept for when it is enabled."""

    async def work(services: Any) -> None:
        s = await services.webhooks.subscriptions.disable(subscription_id, reason)
        _say(f"Disabled {s.public_id} ({s.disabled_reason}); `webhooks enable` sends what waits.")

    await _on_store(work)


@webhooks.command("rotate-secret")
@click.argument("subscription_id")
@_run
async def webhooks_rotate_secret(subscription_id: str) -> None:
    """Give a subscription a new signing secret, printed once.

    The new secret is printed on stdout, once; the previous one keeps signing beside it
    (deliveries carry both signatures) until the time printed, so the receiver can
    switch."""

    async def work(services: Any) -> None:
        s, secret = await services.webhooks.subscriptions.rotate_secret(subscription_id)
        _say(f"New signing secret for {s.public_id}; store it now: it is not shown again.")
        click.echo(secret)
        _say(f"The previous secret also signs until {_utc(s.rotating_until)}.")

    await _on_store(work)


def _outcome(answer: Any) -> str:
    took = f"in {answer.latency_ms:.0f} ms"
    said = f"HTTP {answer.status}" if answer.status is not None else answer.error or "no answer"
    if answer.delivered:
        return f"delivered: {said} {took}"
    head = " ".join((answer.head or "").split())[:80]
    return f"failed: {said} {took}" + (f": {head}" if head else "")


@webhooks.command("test")
@click.argument("subscription_id")
@_run
async def webhooks_test(subscription_id: str) -> None:
    """Send a ping now and say how it went.

    Send the subscription a `ping` delivery at once, signed like every delivery, and
    print how it went (`delivered: HTTP 204 in 12 ms`); exit 1 when it was not
    delivered (it is then retried like any delivery)."""
    from server.webhooks.operating import write_ping

    delivered = False

    async def work(services: Any) -> None:
        nonlocal delivered
        s = await services.webhooks.subscriptions.get(subscription_id)
        delivery = await write_ping(services.webhooks.sessions, s.public_id)
        if not s.enabled:
            _say(f"{s.public_id} is disabled: only this ping is sent ({s.disabled_reason}).")
        answer = await services.webhooks.deliverer.send_now(delivery)
        click.echo(_outcome(answer))
        delivered = bool(answer.delivered)

    await _on_store(work)
    if not delivered:
        raise click.exceptions.Exit(1)


def _delivery_row(d: Delivery) -> dict[str, Any]:
    last = d.tries[-1] if d.tries else None
    said = "-"
    if last is not None:
        said = f"HTTP {last.status}" if last.status is not None else last.error or "no answer"
    return {
        "id": d.public_id,
        "seq": d.seq,
        "topic": d.topic,
        "state": d.state,
        "attempts": d.attempts,
        "next_attempt": _when(d.next_attempt_at) if d.state == "pending" else "-",
        "last": said,
        "created": _when(d.created_at),
        "delivered": _when(d.delivered_at),
    }


@webhooks.command("deliveries")
@click.argument("subscription_id")
@click.option("--failed", "failed_only", is_flag=True, help="Only those whose retries are spent.")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 1000), help="At most this many"
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per delivery.")
@_run
async def webhooks_deliveries(
    subscription_id: str, failed_only: bool, limit: int, as_json: bool
) -> None:
    """List a subscription's latest deliveries, newest first.

    Each delivery: its event's number and topic, its state, attempts, the next one, and
    what the last attempt got (a status, or why there was none)."""

    async def work(services: Any) -> None:
        found = await services.webhooks.subscriptions.deliveries(
            subscription_id, failed_only=failed_only, limit=limit
        )
        _print_rows([_delivery_row(d) for d in found], as_json)

    await _on_store(work)


@webhooks.command("redeliver")
@click.argument("delivery_id")
@_run
async def webhooks_redeliver(delivery_id: str) -> None:
    """Send one delivery again, as soon as the worker can."""

    async def work(services: Any) -> None:
        d = await services.webhooks.subscriptions.redeliver(delivery_id)
        _say(f"Delivery {d.public_id} ({d.topic}, seq {d.seq}) of {d.subscription} goes again.")

    await _on_store(work)


def since_of(given: str) -> tuple[int | None, datetime | None]:
    """`--since`: an event's sequence number (an integer), or an ISO time (UTC unless it
    says otherwise); anything else ends the command with one line."""
    text = given.strip()
    if text.isdigit():
        return int(text), None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.ClickException(
            f"--since takes an event's sequence number (e.g. 1200) or an ISO time "
            f"(e.g. 2026-06-01T14:00:00Z), not {given!r}."
        ) from None
    return None, moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@webhooks.command("replay")
@click.argument("subscription_id")
@click.option("--since", required=True, help="An event's sequence number, or an ISO time.")
@_run
async def webhooks_replay(subscription_id: str, since: str) -> None:
    """Send again every delivery after an event, or since a time.

    Send again, in order, the subscription's deliveries after event number SEQ (the
    `seq` in each payload), or written since an ISO time."""
    since_seq, since_time = since_of(since)

    async def work(services: Any) -> None:
        count = await services.webhooks.subscriptions.replay(
            subscription_id, since_seq=since_seq, since=since_time
        )
        after = f"after event {since_seq}" if since_seq is not None else f"since {_utc(since_time)}"
        _say(f"{count} deliver{'y' if count == 1 else 'ies'} {after} will be sent again.")

    await _on_store(work)


@webhooks.command("listen", epilog="It reads no setting: the secret is all it needs.")
@click.option("--secret", required=True, help="The subscription's signing secret (whsec_…).")
@click.option("--port", default=LISTEN_PORT, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@_guarded
def webhooks_listen(secret: str, port: int, host: str) -> None:
    """Receive deliveries locally and verify their signatures.

    A receiver for trying a subscription: point one at http://HOST:PORT/ (with
    BUSINESS_API_WEBHOOK_ALLOW_PRIVATE=true on the server); each delivery whose
    signature verifies is printed on a line, one that does not is refused."""
    from server.ports import PortTaken, ensure_free

    if not secret.startswith("whsec_"):
        raise click.ClickException("--secret takes the subscription's secret, whsec_….")
    from server.webhooks.receiver import run_listener

    try:
        ensure_free(host, port)
    except PortTaken as error:
        raise click.ClickException(str(error)) from None
    _say("Ctrl-C stops it.")
    try:
        run_listener(secret, host, port, click.echo)
    except ValueError as error:  # a secret that is no whsec_… key
        raise click.ClickException(str(error)) from None
