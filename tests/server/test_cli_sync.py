"""`business-api sync` as an operator runs it: one bounded pass per connection, exit 0
when every connection is caught up, 1 when one failed, 3 when one is not caught up yet
(a pass stopped at its bound, or another sync holds the connection, until a time it
names); `connections list` shows why."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from server.cli import main
from server.store.database import create_engine, session_factory
from server.store.index import IndexStore
from tests.server.providers.hostile_indexed import EndlessBoxpressd
from tests.upstream import SocketUpstream

ACCOUNT = "venue/stogies-chapin"


@pytest.fixture
def run(migrated_store: Path):  # type: ignore[no-untyped-def]
    environ = {
        "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{migrated_store}",
        "BUSINESS_API_SECRET_KEY": "cli-test-secret-key-0123456789",
        "BUSINESS_API_SYNC_PASS_REQUESTS": "3",
    }

    def invoke(*arguments: str, input: str | None = None) -> Result:
        return CliRunner(env=environ).invoke(
            main, list(arguments), input=input, catch_exceptions=False
        )

    assert invoke("businesses", "create", "--handle", "tremble", "--name", "T").exit_code == 0
    return invoke


@pytest.fixture
def hostile(upstream: SocketUpstream) -> Iterator[tuple[EndlessBoxpressd, str]]:
    provider = EndlessBoxpressd()
    base_url = upstream.mount(provider.app, "endless")
    try:
        yield provider, base_url
    finally:
        upstream.unmount(base_url)


def connect(run: Any, base_url: str) -> str:  # type: ignore[no-untyped-def]
    added = run(
        *("connections", "add", "--business", "tremble", "--provider", "boxpressd"),
        *("--base-url", base_url, "--account-id", ACCOUNT, "--credential", "-", "--no-verify"),
        input="bp-key\n",
    )
    assert added.exit_code == 0, added.output
    [row] = listed(run)
    return str(row["id"])


def listed(run: Any) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in run("connections", "list", "--json").stdout.splitlines()]


def test_a_pass_stopped_at_its_bound_exits_3_and_the_next_goes_on(run, hostile) -> None:  # type: ignore[no-untyped-def]
    provider, base_url = hostile
    connect(run, base_url)
    first = run("sync")
    assert first.exit_code == 3, first.output
    said = (
        "not caught up yet: this pass stopped because it sent its 3 requests "
        "(BUSINESS_API_SYNC_PASS_REQUESTS); the next pass goes on from where it stopped"
    )
    assert said in first.stderr and "run `business-api sync` again to go on" in first.stderr
    assert "Error" not in first.stderr  # nothing failed
    assert "Traceback" not in first.output
    [row] = listed(run)
    assert row["last_error"] == said and row["indexed"] == 300 and row["last_sync"] == "-"
    assert row["lag"] == "-"  # no pass has caught up yet
    assert run("sync").exit_code == 3
    offsets = [r.split("offset=")[1].split("&")[0] for r in provider.requests]
    assert offsets == [str(100 * n) for n in range(6)]  # the second went on from the first


def test_a_provider_failure_exits_1_and_is_listed(run, upstream: SocketUpstream) -> None:  # type: ignore[no-untyped-def]
    provider = EndlessBoxpressd(same=True)
    base_url = upstream.mount(provider.app, "same")
    try:
        connect(run, base_url)
        failed = run("sync")
    finally:
        upstream.unmount(base_url)
    assert failed.exit_code == 1
    [row] = listed(run)
    assert "repeats items already read" in row["last_error"]
    assert row["last_error"] in failed.stderr


def test_a_sync_started_while_another_holds_the_lease_exits_3_saying_until_when(  # type: ignore[no-untyped-def]
    run, hostile, migrated_store: Path
) -> None:
    provider, base_url = hostile
    connection = connect(run, base_url)

    with sqlite3.connect(migrated_store) as db:
        [(number,)] = db.execute(
            "SELECT id FROM provider_connections WHERE public_id = ?", (connection,)
        ).fetchall()

    async def killed_sync_left_its_lease() -> datetime:
        engine = create_engine(f"sqlite+aiosqlite:///{migrated_store}")
        try:
            index = IndexStore(session_factory(engine))
            assert await index.take_lease(number, "killed", datetime.now(UTC), 45)
            until = await index.lease_until(number)
            assert until is not None
            return until
        finally:
            await engine.dispose()

    until = asyncio.run(killed_sync_left_its_lease())
    held = run("sync")
    assert held.exit_code == 3
    when = until.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert re.search(
        rf"boxpressd {connection}: another sync holds this connection until {when} .*"
        r"run `business-api sync` again after that",
        held.stderr,
    ), held.stderr
    assert "skipped" not in held.output
    assert provider.requests == []  # nothing crawled twice
