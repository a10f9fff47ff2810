"""`business-api webhooks …`, as an operator uses it."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.cli import main
from tests.upstream import SocketUpstream

SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{43}=")
URL = "http://127.0.0.1:9/hooks"
SENDING = importlib.util.find_spec("server.webhooks.sending") is not None
NEEDS_SENDING = pytest.mark.skipif(
    not SENDING, reason="server/webhooks/sending.py (check_url, the Sender) is not merged yet"
)

Run = Callable[..., Result]


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {
        "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "BUSINESS_API_SECRET_KEY": "cli-test-secret-key-0123456789",
        "BUSINESS_API_WEBHOOK_ALLOW_PRIVATE": "true",  # the receivers here are local
    }


@pytest.fixture
def run(environ: dict[str, str]) -> Run:
    def invoke(*arguments: str, **env: str) -> Result:
        result = CliRunner(env={**environ, **env}).invoke(
            main, list(arguments), catch_exceptions=False
        )
        assert "Traceback" not in result.output
        return result

    assert invoke("migrate").exit_code == 0
    assert invoke("businesses", "create", "--handle", "tremble", "--name", "T").exit_code == 0
    return invoke


def _key(run: Run, scopes: str = "participants:read,registrations:read") -> str:
    created = run("keys", "create", "--business", "tremble", "--name", "hooks", "--scopes", scopes)
    assert created.exit_code == 0, created.output
    return created.stdout.strip().split("_")[1]


def _add(
    run: Run, key: str, *more: str, topics: str = "registration.created", **env: str
) -> Result:
    return run(
        "webhooks",
        "add",
        *("--business", "tremble", "--url", URL, "--topics", topics, "--key", key),
        *more,
        **env,
    )


def _listed(run: Run) -> list[dict[str, Any]]:
    listed = run("webhooks", "list", "--json")
    assert listed.exit_code == 0, listed.output
    return [json.loads(line) for line in listed.stdout.splitlines()]


def _shown(run: Run, subscription: str) -> dict[str, Any]:
    shown = run("webhooks", "show", subscription, "--json")
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def test_add_prints_the_secret_alone_on_stdout_once_and_stores_it_encrypted(
    run: Run, tmp_path: Path
) -> None:
    added = _add(run, _key(run))
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip()
    assert SECRET.fullmatch(secret)
    assert "whsec_" not in added.stderr.replace("whsec_…", "")
    assert "not shown again" in added.stderr
    assert "business-api webhooks listen --secret whsec_… --port 8787" in added.stderr
    [row] = _listed(run)
    assert f"Created webhook subscription {row['id']} for @tremble" in added.stderr
    assert f"business-api webhooks test {row['id']}" in added.stderr

    for shown in (run("webhooks", "list"), run("webhooks", "show", row["id"])):
        assert secret not in shown.output and "whsec_" not in shown.output
    stored = (tmp_path / "cli.db").read_bytes()
    assert secret.encode() not in stored
    assert secret.removeprefix("whsec_").encode() not in stored


def test_a_purchase_topic_needs_a_key_that_reads_purchases(run: Run) -> None:
    refused = _add(run, _key(run), topics="registration.created,purchase.created")
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr == (
        "Error: the key cannot read purchase.created events: it needs the purchases:read scope.\n"
    )
    assert _listed(run) == []

    able = _key(run, "participants:read,purchases:read")
    assert _add(run, able, topics="purchase.created").exit_code == 0


def test_an_unknown_topic_or_key_is_refused_in_one_line(run: Run) -> None:
    key = _key(run)
    unknown = _add(run, key, topics="registration.made")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("Error: unknown topic 'registration.made': the topics are ")
    assert unknown.stderr.count("\n") == 1
    nobody = _add(run, "0123456789ab")
    assert nobody.exit_code == 1
    assert nobody.stderr == "Error: tremble has no API key '0123456789ab': see keys list.\n"
    elsewhere = run(
        "webhooks",
        "add",
        *("--business", "acme", "--url", URL, "--topics", "registration.created", "--key", key),
    )
    assert elsewhere.exit_code == 1 and "no business 'acme'" in elsewhere.stderr
    assert _listed(run) == []


def test_a_plain_http_url_needs_private_addresses_allowed(run: Run) -> None:
    refused = _add(run, _key(run), BUSINESS_API_WEBHOOK_ALLOW_PRIVATE="false")
    assert refused.exit_code == 1
    assert refused.stderr == ("Error: The URL must use https (--url).\n")
    assert _listed(run) == []


@NEEDS_SENDING
def test_by_default_a_loopback_address_is_refused(run: Run) -> None:
    refused = run(
        "webhooks",
        "add",
        *("--business", "tremble", "--url", "https://127.0.0.1/", "--key", _key(run)),
        *("--topics", "registration.created"),
        BUSINESS_API_WEBHOOK_ALLOW_PRIVATE="false",
    )
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("Error: ") and refused.stderr.endswith("(--url).\n")
    assert _listed(run) == []


def test_a_subscription_is_listed_shown_updated_disabled_enabled_and_removed(run: Run) -> None:
    key = _key(run)
    assert _add(run, key).exit_code == 0
    [row] = _listed(run)
    assert row == {
        "id": row["id"],
        "business": "tremble",
        "url": URL,
        "topics": "registration.created",
        "key": key,
        "state": "ENABLED",
        "pending": 0,
        "failed": 0,
        "disabled_reason": "-",
    }
    table = run("webhooks", "list", "--business", "tremble").stdout.splitlines()
    assert table[0].split() == [
        *("ID", "BUSINESS", "URL", "TOPICS", "KEY", "STATE", "PENDING", "FAILED"),
        *("DISABLED", "REASON"),
    ]
    assert table[1].split()[:6] == [
        row["id"],
        "tremble",
        URL,
        "registration.created",
        key,
        "ENABLED",
    ]
    shown = run("webhooks", "show", row["id"])
    assert f"id: {row['id']}" in shown.stdout and "ordered: True" in shown.stdout

    updated = run(
        "webhooks",
        "update",
        row["id"],
        *("--url", "http://127.0.0.1:9/other", "--unordered"),
        *("--topics", "registration.created,registration.deleted"),
    )
    assert updated.exit_code == 0, updated.output
    now = _shown(run, row["id"])
    assert now["url"] == "http://127.0.0.1:9/other" and now["ordered"] is False
    assert now["topics"] == "registration.created,registration.deleted"
    nothing = run("webhooks", "update", row["id"])
    assert nothing.exit_code == 2 and "Give --url, --topics" in nothing.stderr
    bad = run("webhooks", "update", row["id"], "--topics", "purchase.created")
    assert bad.exit_code == 1 and "it needs the purchases:read scope" in bad.stderr

    disabled = run("webhooks", "disable", row["id"], "--reason", "receiver moving")
    assert disabled.exit_code == 0, disabled.output
    [row] = _listed(run)
    assert row["state"] == "disabled" and row["disabled_reason"] == "receiver moving"
    enabled = run("webhooks", "enable", row["id"])
    assert enabled.exit_code == 0
    assert f"Enabled {row['id']}: 0 deliveries will now be sent." in enabled.stderr
    [row] = _listed(run)
    assert row["state"] == "ENABLED" and row["disabled_reason"] == "-"

    assert run("webhooks", "remove", row["id"]).exit_code == 0
    assert _listed(run) == []
    gone = run("webhooks", "show", row["id"])
    assert gone.exit_code == 1
    assert gone.stderr == f"Error: no webhook subscription {row['id']!r}: see webhooks list.\n"


def test_rotating_the_secret_prints_a_new_one_and_show_says_until_when_the_old_signs(
    run: Run,
) -> None:
    first = _add(run, _key(run)).stdout.strip()
    [row] = _listed(run)
    assert _shown(run, row["id"])["previous_secret_signs_until"] == "-"
    rotated = run("webhooks", "rotate-secret", row["id"])
    assert rotated.exit_code == 0, rotated.output
    second = rotated.stdout.strip()
    assert SECRET.fullmatch(second) and second != first
    assert "whsec_" not in rotated.stderr
    until = _shown(run, row["id"])["previous_secret_signs_until"]
    assert until.endswith(" UTC") and until != "-"
    assert f"The previous secret also signs until {until}." in rotated.stderr


def test_revoking_the_key_lists_its_subscription_disabled_with_the_reason(run: Run) -> None:
    key = _key(run)
    assert _add(run, key).exit_code == 0
    assert run("keys", "revoke", key).exit_code == 0
    [row] = _listed(run)
    assert row["state"] == "disabled" and key in row["disabled_reason"]
    assert "revoked" in row["disabled_reason"]
    again = run("webhooks", "enable", row["id"])
    assert again.exit_code == 1 and again.stderr.count("\n") == 1 and "revoked" in again.stderr


def test_replay_takes_a_sequence_number_or_an_iso_time_and_says_so_in_one_line(run: Run) -> None:
    assert _add(run, _key(run)).exit_code == 0
    [row] = _listed(run)
    by_seq = run("webhooks", "replay", row["id"], "--since", "12")
    assert by_seq.exit_code == 0 and "0 deliveries after event 12" in by_seq.stderr
    by_time = run("webhooks", "replay", row["id"], "--since", "2026-06-01T14:00:00Z")
    assert by_time.exit_code == 0
    assert "0 deliveries since 2026-06-01 14:00:00 UTC" in by_time.stderr
    for given in ("yesterday", "-3", "12.5", ""):
        refused = run("webhooks", "replay", row["id"], "--since", given)
        assert refused.exit_code == 1, given
        assert refused.stderr == (
            "Error: --since takes an event's sequence number (e.g. 1200) or an ISO time "
            f"(e.g. 2026-06-01T14:00:00Z), not {given!r}.\n"
        )
    nobody = run("webhooks", "replay", "wh_nope", "--since", "1")
    assert nobody.exit_code == 1 and nobody.stderr.count("\n") == 1


def test_deliveries_and_redeliver_say_what_is_missing_in_one_line(run: Run) -> None:
    assert _add(run, _key(run)).exit_code == 0
    [row] = _listed(run)
    listed = run("webhooks", "deliveries", row["id"], "--failed", "--json")
    assert listed.exit_code == 0 and listed.stdout == ""
    missing = run("webhooks", "redeliver", "msg_nope")
    assert missing.exit_code == 1
    assert missing.stderr == "Error: no delivery 'msg_nope': see webhooks deliveries.\n"


def test_test_names_a_subscription_that_is_not_there_in_one_line(run: Run) -> None:
    missing = run("webhooks", "test", "wh_nope")
    assert missing.exit_code == 1 and missing.stdout == ""
    assert missing.stderr == "Error: no webhook subscription 'wh_nope': see webhooks list.\n"


def test_add_and_update_list_the_setting_that_allows_local_urls(run: Run) -> None:
    for command in ("add", "update"):
        shown = run("webhooks", command, "--help")
        assert "BUSINESS_API_WEBHOOK_ALLOW_PRIVATE" in shown.stdout
        assert "BUSINESS_API_DATABASE_URL" in shown.stdout


def test_listen_wants_a_signing_secret(run: Run) -> None:
    refused = run("webhooks", "listen", "--secret", "sk_abc")
    assert refused.exit_code == 1
    assert refused.stderr == "Error: --secret takes the subscription's secret, whsec_….\n"


def _receiver(secret: str, status: int, seen: list[dict[str, Any]]) -> Starlette:
    async def receive(request: Request) -> Response:
        body = await request.body()
        seen.append(Webhook(secret).verify(body, dict(request.headers)))
        return Response(status_code=status)

    return Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])


@NEEDS_SENDING
@pytest.mark.parametrize("status", [204, 500])
def test_test_sends_a_signed_ping_at_once_and_says_how_it_went(
    run: Run, upstream: SocketUpstream, status: int
) -> None:
    first = _add(run, _key(run)).stdout.strip()
    [row] = _listed(run)
    seen: list[dict[str, Any]] = []
    url = upstream.mount(_receiver(first, status, seen), "receiver")
    try:
        assert run("webhooks", "update", row["id"], "--url", url + "/hook").exit_code == 0
        tested = run("webhooks", "test", row["id"])
    finally:
        upstream.unmount(url)
    assert seen == [
        {"type": "ping", "timestamp": seen[0]["timestamp"], "data": {"subscription": row["id"]}}
    ]
    if status == 204:
        assert tested.exit_code == 0
        assert re.fullmatch(r"delivered: HTTP 204 in \d+ ms\n", tested.stdout)
    else:
        assert tested.exit_code == 1
        assert tested.stdout.startswith("failed: HTTP 500 in ")
    [delivery] = [
        json.loads(line)
        for line in run("webhooks", "deliveries", row["id"], "--json").stdout.splitlines()
    ]
    assert delivery["topic"] == "ping" and delivery["seq"] == 0 and delivery["attempts"] == 1
    assert delivery["state"] == ("delivered" if status == 204 else "pending")
