"""What an operator sees when something is not set up yet: the installed `business-api`
run as a subprocess, as from a terminal. Expected failures are one line saying what to do,
with a distinct exit code for "migrate first", and never a traceback."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from pathlib import Path

import click
import httpx
import pytest
from alembic import command
from click.testing import CliRunner

from server.app import create_app
from server.cli import main
from server.settings import Settings, specs
from server.store.database import alembic_config, create_engine
from server.store.readiness import head_revision
from tests import live
from tests.live import free_port, running_server

SECRET = "operator-test-secret-key-0123456789"
NOT_READY = 2


def business_api(folder: Path, *arguments: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """The installed command with this module's secret key (and the settings given)."""
    return live.business_api(folder, *arguments, **{"BUSINESS_API_SECRET_KEY": SECRET, **environ})


def one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "arguments",
    [("businesses", "list"), ("keys", "list"), ("connections", "list"), ("sync",)],
)
def test_a_store_command_before_migrate_says_to_migrate_and_creates_nothing(
    tmp_path: Path, arguments: tuple[str, ...]
) -> None:
    result = business_api(tmp_path, *arguments)

    assert result.returncode == NOT_READY
    assert "run `business-api migrate`" in one_clear_line(result)
    assert list(tmp_path.iterdir()) == []  # no empty business-api.db left behind


@pytest.mark.subprocess
@pytest.mark.parametrize("command", ["serve", "demo"])
def test_serve_and_demo_on_a_taken_port_say_which_in_one_line_and_print_no_key(
    tmp_path: Path, command: str
) -> None:
    """Checked before anything else: no store is opened, no key printed, no hang (the
    command's own timeout is 60 s; it ends in the time its imports take)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = business_api(tmp_path, command, "--port", str(port))
    assert result.returncode == 1
    assert one_clear_line(result) == (
        f"Error: Port {port} on 127.0.0.1 is taken by another process: choose another with --port."
    )
    assert result.stdout == "" and "sk_" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no store, no env file


@pytest.mark.subprocess
def test_serve_refuses_a_store_that_was_never_migrated(tmp_path: Path) -> None:
    result = business_api(tmp_path, "serve", "--port", str(free_port()))

    assert result.returncode == NOT_READY
    assert "run `business-api migrate`" in one_clear_line(result)


@pytest.mark.subprocess
def test_a_store_at_an_older_schema_names_both_revisions(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{database}"
    engine = create_engine(url)

    async def upgrade_to_0002() -> None:
        def upgrade(connection: object) -> None:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")

        async with engine.begin() as connection:
            await connection.run_sync(upgrade)
        await engine.dispose()

    database.touch()
    asyncio.run(upgrade_to_0002())

    result = business_api(tmp_path, "keys", "list", BUSINESS_API_DATABASE_URL=url)

    assert result.returncode == NOT_READY
    line = one_clear_line(result)
    assert (
        "at schema 0002" in line
        and f"needs {head_revision()}" in line
        and "business-api migrate" in line
    )

    assert business_api(tmp_path, "migrate", BUSINESS_API_DATABASE_URL=url).returncode == 0
    assert business_api(tmp_path, "keys", "list", BUSINESS_API_DATABASE_URL=url).returncode == 0


@pytest.mark.subprocess
def test_a_postgres_url_names_the_driver_to_use_and_hides_the_password(tmp_path: Path) -> None:
    result = business_api(
        tmp_path,
        "keys",
        "list",
        BUSINESS_API_DATABASE_URL="postgres://app:hunter2-password@db.example/app",
    )

    assert result.returncode != 0
    line = one_clear_line(result)
    assert "postgresql+asyncpg://" in line and "BUSINESS_API_DATABASE_URL" in line
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.subprocess
def test_an_unreachable_database_names_its_host_and_port(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = business_api(
        tmp_path,
        "businesses",
        "list",
        BUSINESS_API_DATABASE_URL=f"postgresql+asyncpg://postgres:pw-secret@127.0.0.1:{port}/x",
    )

    assert result.returncode == NOT_READY
    line = one_clear_line(result)
    assert f"127.0.0.1:{port}" in line and "connection refused" in line
    assert "pw-secret" not in line


@pytest.mark.subprocess
def test_debug_shows_the_traceback_that_is_otherwise_hidden(tmp_path: Path) -> None:
    result = business_api(tmp_path, "--debug", "businesses", "list")

    assert result.returncode != 0
    assert "Traceback" in result.stderr and "StoreNotReady" in result.stderr


@pytest.mark.subprocess
def test_serve_migrate_brings_the_store_up_and_readyz_says_ready(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    settings = {"BUSINESS_API_SECRET_KEY": SECRET, "BUSINESS_API_DATABASE_URL": url}
    with running_server(settings, "--migrate") as base_url:
        ready = httpx.get(f"{base_url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"policy": "ok", "store": "ok"}}


async def test_readyz_fails_while_the_store_or_redis_cannot_be_used(tmp_path: Path) -> None:
    settings = Settings.from_environ(
        {
            "BUSINESS_API_SECRET_KEY": SECRET,
            "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.db'}",
            "BUSINESS_API_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        }
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ready = await client.get("/readyz")
        healthy = await client.get("/healthz")
    await app.state.services.close()

    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert "business-api migrate" in checks["store"]
    assert checks["redis"].startswith("Redis does not answer")
    assert healthy.status_code == 200  # the process itself is fine: no restart needed


@pytest.mark.subprocess
def test_help_lists_the_settings_and_version_is_printed(tmp_path: Path) -> None:
    general = business_api(tmp_path, "--help").stdout
    assert all(spec.name in general for _, spec in specs())
    store = business_api(tmp_path, "keys", "list", "--help").stdout
    assert "BUSINESS_API_SECRET_KEY" in store and "BUSINESS_API_DATABASE_URL" in store
    serve = business_api(tmp_path, "serve", "--help").stdout
    assert "BUSINESS_API_REDIS_URL" in serve and "--migrate" in serve

    version = business_api(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.strip() == "business-api 0.1.0"


def test_every_command_has_a_one_line_description() -> None:
    def groups(group: click.Group, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = [path]
        for name, each in group.commands.items():
            if isinstance(each, click.Group):
                found += groups(each, (*path, name))
        return found

    for path in groups(main, ()):
        shown = CliRunner().invoke(main, [*path, "--help"], terminal_width=80).output
        listed = shown.split("Commands:\n")[1].split("\n\n")[0].splitlines()
        for line in listed:
            name, _, description = line.strip().partition(" ")
            assert description.strip(), f"{path} {name} has no description"
            assert not description.endswith("..."), f"{path} {name}: {description.strip()}"


@pytest.mark.subprocess
def test_keys_revoke_takes_a_whole_key_without_repeating_its_secret(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    assert business_api(tmp_path, "migrate", BUSINESS_API_DATABASE_URL=url).returncode == 0
    business_api(
        tmp_path, "businesses", "create", "--handle", "a", "--name", "A",
        BUSINESS_API_DATABASE_URL=url,
    )  # fmt: skip
    created = business_api(
        tmp_path, "keys", "create", "--business", "a", "--scopes", "business:read",
        "--name", "ci", BUSINESS_API_DATABASE_URL=url,
    )  # fmt: skip
    key = created.stdout.strip()
    secret = key.split("_")[2]

    revoked = business_api(tmp_path, "keys", "revoke", key, BUSINESS_API_DATABASE_URL=url)
    unknown = business_api(
        tmp_path, "keys", "revoke", "sk_0123456789ab_" + "A" * 43, BUSINESS_API_DATABASE_URL=url
    )
    garbled = business_api(
        tmp_path, "keys", "revoke", key[:-1] + "_", BUSINESS_API_DATABASE_URL=url
    )

    assert revoked.returncode == 0 and secret not in revoked.stderr + revoked.stdout
    listed = business_api(tmp_path, "keys", "list", "--json", BUSINESS_API_DATABASE_URL=url)
    assert '"state": "revoked"' in listed.stdout
    assert unknown.returncode == 1 and "A" * 43 not in unknown.stderr
    assert "0123456789ab" in one_clear_line(unknown)
    assert garbled.returncode == 1 and secret[:-1] not in garbled.stderr


@pytest.mark.subprocess
def test_list_commands_print_a_header_or_json(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lists.db'}"
    business_api(tmp_path, "migrate", BUSINESS_API_DATABASE_URL=url)
    business_api(
        tmp_path, "businesses", "create", "--handle", "a", "--name", "A",
        BUSINESS_API_DATABASE_URL=url,
    )  # fmt: skip

    table = business_api(tmp_path, "businesses", "list", BUSINESS_API_DATABASE_URL=url)
    rows = business_api(tmp_path, "businesses", "list", "--json", BUSINESS_API_DATABASE_URL=url)

    assert table.stdout.splitlines()[0].split()[:2] == ["HANDLE", "ID"]
    assert table.stdout.splitlines()[1].startswith("a ")
    [row] = [json.loads(line) for line in rows.stdout.splitlines()]
    assert row["handle"] == "a" and row["name"] == "A" and row["id"].startswith("biz_")
