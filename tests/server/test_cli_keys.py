"""The operator's key chores: a secret to start with, revoking twice, rolling a key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from server.cli import main
from server.settings import Settings

KEY = re.compile(r"sk_[0-9a-f]{12}_[0-9A-Za-z]{43}")


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    environ = {
        "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "BUSINESS_API_SECRET_KEY": "cli-test-secret-key-0123456789",
    }

    def invoke(*arguments: str) -> Result:
        return CliRunner(env=environ).invoke(main, list(arguments), catch_exceptions=False)

    assert invoke("migrate").exit_code == 0
    assert invoke("businesses", "create", "--handle", "tremble", "--name", "T").exit_code == 0
    return invoke


def _key(run, name: str = "crm") -> str:  # type: ignore[no-untyped-def]
    created = run(
        "keys", "create", "--business", "tremble", "--name", name, "--scopes", "business:read"
    )
    assert created.exit_code == 0
    return created.stdout.strip()


def _states(run) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    listed = run("keys", "list", "--json").stdout.splitlines()
    return {row["key_id"]: row for row in map(json.loads, listed)}


def test_the_missing_secret_names_the_command_that_makes_one(tmp_path: Path) -> None:
    environ = {"BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}
    refused = CliRunner(env=environ).invoke(main, ["keys", "list"])
    assert refused.exit_code == 1
    assert "BUSINESS_API_SECRET_KEY is not set" in refused.output
    assert "`business-api secret` prints one" in refused.output

    made = CliRunner().invoke(main, ["secret"])
    assert made.exit_code == 0
    secret = made.stdout.strip()
    assert len(secret) >= 32 and secret != CliRunner().invoke(main, ["secret"]).stdout.strip()
    settings = Settings.from_environ({**environ, "BUSINESS_API_SECRET_KEY": secret})
    assert str(settings.secret_key) == secret


def test_revoking_a_revoked_key_says_so(run) -> None:  # type: ignore[no-untyped-def]
    key_id = _key(run).split("_")[1]
    first, again = run("keys", "revoke", key_id), run("keys", "revoke", key_id)
    assert (first.exit_code, again.exit_code) == (0, 0)
    assert first.stderr.strip() == f"Revoked key {key_id}."
    assert again.stderr.startswith(f"Key {key_id} was already revoked, on ")


def test_rolling_a_key_mints_its_successor_and_ends_it_after_the_overlap(run) -> None:  # type: ignore[no-untyped-def]
    old_id = _key(run).split("_")[1]
    kept = _key(run, "other").split("_")[1]
    rolled = run("keys", "roll", old_id, "--overlap", "24h")
    assert rolled.exit_code == 0
    assert KEY.fullmatch(rolled.stdout.strip()) and "sk_" not in rolled.stderr
    new_id = rolled.stdout.strip().split("_")[1]
    states = _states(run)
    assert states[old_id]["state"] == "active" and states[old_id]["expires"] != "-"
    assert states[new_id]["state"] == "active" and states[new_id]["name"] == "crm"
    assert states[new_id]["scopes"] == states[old_id]["scopes"]

    now = run("keys", "roll", new_id, "--overlap", "0")
    assert now.exit_code == 0
    states = _states(run)
    assert states[new_id]["state"] == "expired" and states[kept]["expires"] == "-"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("--overlap", "a day"), "is no duration"),
        (("--overlap", "24x"), "is no duration"),
    ],
)
def test_a_bad_overlap_is_refused_in_one_line(run, arguments, says) -> None:  # type: ignore[no-untyped-def]
    key_id = _key(run).split("_")[1]
    refused = run("keys", "roll", key_id, *arguments)
    assert refused.exit_code == 2 and says in refused.output


def test_a_revoked_key_is_not_rolled(run) -> None:  # type: ignore[no-untyped-def]
    key_id = _key(run).split("_")[1]
    assert run("keys", "revoke", key_id).exit_code == 0
    refused = run("keys", "roll", key_id)
    assert refused.exit_code == 1
    assert refused.output.strip().endswith("is revoked or expired: mint a new one")
    assert len(refused.output.strip().splitlines()) == 1
