"""The `business-api` command, as an operator uses it."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from server.cli import main
from server.scopes_help import write_scopes

KEY = re.compile(r"sk_[0-9a-f]{12}_[0-9A-Za-z]{43}")


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    environ = {
        "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "BUSINESS_API_SECRET_KEY": "cli-test-secret-key-0123456789",
    }

    def invoke(*arguments: str, input: str | None = None) -> Result:
        return CliRunner(env=environ).invoke(
            main, list(arguments), input=input, catch_exceptions=False
        )

    assert invoke("migrate").exit_code == 0
    return invoke


def test_keys_create_prints_the_key_alone_on_stdout(run) -> None:  # type: ignore[no-untyped-def]
    assert run("businesses", "create", "--handle", "tremble", "--name", "Tremble").exit_code == 0
    created = run(
        "keys",
        "create",
        "--business",
        "tremble",
        "--name",
        "crm",
        "--scopes",
        "business:read,participants:read",
    )
    assert created.exit_code == 0
    assert KEY.fullmatch(created.stdout.strip())
    assert "Store it now" in created.stderr and "sk_" not in created.stderr

    listed = run("keys", "list", "--business", "tremble", "--json")
    key_id = created.stdout.strip().split("_")[1]
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["key_id"] == key_id and row["state"] == "active" and row["name"] == "crm"
    assert row["scopes"] == "business:read,participants:read" and row["business"] == "tremble"
    assert created.stdout.strip() not in listed.stdout

    assert run("keys", "revoke", key_id).exit_code == 0
    assert run("keys", "list").stdout.splitlines()[1].split()[:3] == [key_id, "tremble", "revoked"]


def test_a_key_past_its_expiry_is_listed_as_expired(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("businesses", "create", "--handle", "tremble", "--name", "Tremble").exit_code == 0
    created = run(
        "keys",
        "create",
        *("--business", "tremble", "--name", "trial", "--scopes", "business:read"),
        *("--expires-in-days", "1"),
    )
    assert created.exit_code == 0, created.output
    key_id = created.stdout.strip().split("_")[1]
    [row] = [json.loads(line) for line in run("keys", "list", "--json").stdout.splitlines()]
    assert row["state"] == "active" and row["expires"]
    with sqlite3.connect(tmp_path / "cli.db") as db:  # the day has passed
        db.execute(
            "UPDATE api_keys SET expires_at = ? WHERE key_id = ?",
            ("2020-01-01 00:00:00.000000", key_id),
        )
    [row] = [json.loads(line) for line in run("keys", "list", "--json").stdout.splitlines()]
    assert row["state"] == "expired"


def test_keys_need_declared_scopes_each_with_its_prerequisites(run) -> None:  # type: ignore[no-untyped-def]
    run("businesses", "create", "--handle", "tremble", "--name", "Tremble")
    unknown = run("keys", "create", "--business", "tremble", "--name", "x", "--scopes", "all")
    assert unknown.exit_code == 1 and "Unknown scopes: all. Declared: business:read," in (
        unknown.stderr
    )
    alone = run(
        "keys", "create", "--business", "tremble", "--name", "x", "--scopes", "registrations:read"
    )
    assert alone.exit_code == 1 and alone.stdout == ""
    assert alone.stderr == (
        "Error: `registrations:read` needs `participants:read`: add it, or the key can read "
        "none of the fields `registrations:read` grants.\n"
    )
    nobody = run(
        "keys", "create", "--business", "nobody", "--name", "x", "--scopes", "business:read"
    )
    assert nobody.exit_code == 1 and "No business has the handle" in nobody.stderr


def test_keys_get_business_read_without_asking_for_it(run) -> None:  # type: ignore[no-untyped-def]
    run("businesses", "create", "--handle", "tremble", "--name", "Tremble")
    created = run(
        "keys",
        "create",
        "--business",
        "tremble",
        "--name",
        "crm",
        "--scopes",
        "registrations:read,participants:read",
    )
    assert created.exit_code == 0, created.stderr
    key_id = created.stdout.strip().split("_")[1]
    assert (
        f"Created key {key_id} for @tremble with scopes business:read, participants:read, "
        "registrations:read." in created.stderr
    )


def test_keys_create_help_lists_the_policy_scopes_with_their_prerequisites(run) -> None:  # type: ignore[no-untyped-def]
    shown = run("keys", "create", "--help")
    assert shown.exit_code == 0
    scopes = shown.stdout.partition("Scopes:")[2]
    for scope in ("business:read", "participants:read", "participants.email:read"):
        assert f"\n  {scope} " in scopes
    flat = " ".join(scopes.split())
    assert "registrations:read Read participants' registrations for activity sessions. " in flat
    assert "sessions. Needs participants:read." in flat
    assert "(pageInfo). Always added." in flat


def test_keys_create_help_says_so_when_the_policy_cannot_be_read(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    formatter = click.HelpFormatter(width=500)
    write_scopes(formatter, missing)
    assert formatter.getvalue() == (
        "Scopes:\n  Those the policy file declares; it cannot be read now "
        f"({missing}: cannot read the policy file (No such file or directory)).\n"
    )


def test_businesses_are_created_listed_and_their_rate_limit_updated(run) -> None:  # type: ignore[no-untyped-def]
    assert run("businesses", "create", "--handle", "tremble", "--name", "Tremble").exit_code == 0
    taken = run("businesses", "create", "--handle", "tremble", "--name", "Again")
    assert taken.exit_code == 1 and "already taken" in taken.stderr
    invalid = run("businesses", "create", "--handle", "Not A Handle", "--name", "x")
    assert invalid.exit_code == 1 and "invalid handle" in invalid.stderr

    def limit() -> int:
        [row] = [
            json.loads(line) for line in run("businesses", "list", "--json").stdout.splitlines()
        ]
        return int(row["rate_limit_per_minute"])

    assert limit() == 120
    assert run("businesses", "update", "tremble", "--rate-limit", "600").exit_code == 0
    assert limit() == 600
    assert run("businesses", "update", "tremble", "--default-rate-limit").exit_code == 0
    assert limit() == 120
    both = run("businesses", "update", "tremble")
    assert both.exit_code == 2


def test_connections_are_added_listed_and_removed(run) -> None:  # type: ignore[no-untyped-def]
    run("businesses", "create", "--handle", "tremble", "--name", "Tremble")
    added = run(
        "connections",
        "add",
        "--business",
        "tremble",
        "--provider",
        "wix",
        "--base-url",
        "https://www.wixapis.com",
        "--account-id",
        "site-1",
        "--credential",
        "very-secret-wix-key",
        "--no-verify",  # no provider to call here: checking is tested in test_connection_check
    )
    assert added.exit_code == 0
    listed = run("connections", "list").stdout
    header, row = listed.splitlines()
    assert header.split() == [
        "ID",
        "BUSINESS",
        "PROVIDER",
        "MODE",
        "BASE",
        "URL",
        "ACCOUNT",
        "ID",
        "CREATED",
        "INDEXED",
        "LAST",
        "SYNC",
        "LAG",
        "LAST",
        "ERROR",
    ]
    assert row.split()[1:6] == ["tremble", "wix", "live", "https://www.wixapis.com", "site-1"]
    assert "very-secret-wix-key" not in listed + added.stdout + added.stderr
    [as_json] = run("connections", "list", "--json").stdout.splitlines()
    record = json.loads(as_json)
    assert (record["business"], record["provider"], record["mode"]) == ("tremble", "wix", "live")
    assert run("connections", "remove", record["id"]).exit_code == 0
    assert run("connections", "list").stdout == ""


def test_a_credential_can_come_from_a_file_or_standard_input(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("businesses", "create", "--handle", "tremble", "--name", "Tremble")
    secret = tmp_path / "wix.key"
    secret.write_text("from-a-file\n")
    base = ["connections", "add", "--business", "tremble", "--provider", "wix", "--no-verify"]
    assert run(*base, "--account-id", "site-1", "--credential-file", str(secret)).exit_code == 0
    from_stdin = run(*base, "--account-id", "site-2", "--credential", "-", input="from-stdin\n")
    assert from_stdin.exit_code == 0
    rows = [json.loads(line) for line in run("connections", "list", "--json").stdout.splitlines()]
    assert [r["base_url"] for r in rows] == ["https://www.wixapis.com"] * 2  # the default


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--base-url", "not-a-url", "--account-id", "site-1"], "--base-url must be an http(s)"),
        (["--base-url", "https://", "--account-id", "site-1"], "--base-url must be an http(s)"),
        (["--account-id", "no spaces!"], "--account-id must be a Wix site id"),
        (["--account-id", "site-1", "--credential", ""], "The credential is empty"),
    ],
)
def test_connections_add_says_what_is_wrong(run, arguments, message) -> None:  # type: ignore[no-untyped-def]
    run("businesses", "create", "--handle", "tremble", "--name", "Tremble")
    base = ["connections", "add", "--business", "tremble", "--provider", "wix"]
    if "--credential" not in arguments:
        arguments = [*arguments, "--credential", "k"]
    result = run(*base, *arguments)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_rotated_credential_keeps_the_connection(run) -> None:  # type: ignore[no-untyped-def]
    run("businesses", "create", "--handle", "tremble", "--name", "Tremble")
    run(
        "connections",
        "add",
        "--business",
        "tremble",
        "--provider",
        "wix",
        "--account-id",
        "site-1",
        "--credential",
        "old",
        "--no-verify",
    )
    [before] = [json.loads(x) for x in run("connections", "list", "--json").stdout.splitlines()]
    rotated = run(
        "connections", "update", before["id"], "--credential", "-", "--no-verify", input="new\n"
    )
    assert rotated.exit_code == 0, rotated.stderr
    [after] = [json.loads(x) for x in run("connections", "list", "--json").stdout.splitlines()]
    assert after == before


def test_policy_check_schema_print_and_docs_build(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    checked = run("policy", "check")
    assert checked.exit_code == 0 and "fields under 5 scopes" in checked.stderr
    public = run("schema", "print", "--public").stdout
    internal = run("schema", "print").stdout
    assert "activeBusiness" in public and "apiKeys" not in public
    assert "apiKeys" in internal and "type Mutation" in internal
    built = run("docs", "build", "--out", str(tmp_path / "docs"))
    assert built.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == [
        "reference.html",
        "reference.md",
        "schema.graphql",
    ]


def test_a_missing_secret_key_is_a_clear_error(tmp_path: Path) -> None:
    environ = {"BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}
    result = CliRunner(env=environ).invoke(main, ["businesses", "list"])
    assert result.exit_code == 1
    assert "BUSINESS_API_SECRET_KEY is not set" in result.stderr


def test_a_broken_policy_stops_the_commands_with_the_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "policy.toml"
    broken.write_text(
        '[scopes]\n"business:read" = "x"\n\n[expose.Query]\nactiveBusiness = "business:read"\n'
        '\n[expose.Business]\nid = "business:read"\nnothing = "business:read"\n'
    )
    missing = tmp_path / "missing.toml"
    for policy, expected in ((broken, f"{broken}:9"), (missing, "cannot read")):
        environ = {
            "BUSINESS_API_POLICY": str(policy),
            "BUSINESS_API_SECRET_KEY": "cli-test-secret-key-0123456789",
            "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        }
        for command in (["policy", "check"], ["businesses", "list"]):
            result = CliRunner(env=environ).invoke(main, command)
            assert result.exit_code == 1, result.output
            assert expected in result.stderr


def test_indexed_providers_are_added_with_their_own_account_forms(run) -> None:  # type: ignore[no-untyped-def]
    run("businesses", "create", "--handle", "tremble", "--name", "Tremble")
    base = ["connections", "add", "--business", "tremble", "--credential", "k", "--no-verify"]
    assert run(*base, "--provider", "sessions").exit_code == 0  # no account id: a label only
    wrong = run(*base, "--provider", "boxpressd", "--account-id", "stogies-chapin")
    assert wrong.exit_code != 0 and "venue/<id> or brand/<id>" in wrong.stderr
    assert (
        run(*base, "--provider", "boxpressd", "--account-id", "venue/stogies-chapin").exit_code == 0
    )
    missing = run(*base, "--provider", "wix")
    assert missing.exit_code != 0 and "--account-id is required" in missing.stderr
    rows = [json.loads(line) for line in run("connections", "list", "--json").stdout.splitlines()]
    assert [(r["provider"], r["mode"], r["indexed"]) for r in rows] == [
        ("sessions", "indexed", 0),
        ("boxpressd", "indexed", 0),
    ]


def test_a_connection_takes_the_mode_its_operator_chooses_among_the_providers(run) -> None:  # type: ignore[no-untyped-def]
    run("businesses", "create", "--handle", "tremble", "--name", "Tremble")
    base = ["connections", "add", "--business", "tremble", "--credential", "k", "--no-verify"]
    board = [*base, "--provider", "sessionboard", "--account-id", "4512"]
    assert run(*board).exit_code == 0  # its default: indexed
    assert run(*board, "--mode", "live").exit_code == 0
    for bad, says in (
        (
            [*board, "--mode", "bogus"],
            "Sessionboard connections can be live or indexed, not 'bogus'",
        ),
        ([*base, "--provider", "wix", "--account-id", "s", "--mode", "indexed"], "can be live,"),
        (
            [*base, "--provider", "boxpressd", "--account-id", "venue/v", "--mode", "live"],
            "indexed",
        ),
    ):
        refused = run(*bad)
        assert refused.exit_code == 1
        assert says in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    rows = [json.loads(line) for line in run("connections", "list", "--json").stdout.splitlines()]
    assert [(r["provider"], r["mode"]) for r in rows] == [
        ("sessionboard", "indexed"),
        ("sessionboard", "live"),
    ]


def test_serve_with_workers_needs_redis(run) -> None:  # type: ignore[no-untyped-def]
    refused = run("serve", "--workers", "2")
    assert refused.exit_code == 1
    assert "--workers needs BUSINESS_API_REDIS_URL" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
