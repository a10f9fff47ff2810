"""`connections add`, `update` and `test` check a connection with one call to the
provider, against each provider's emulator served over a real socket."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from server.cli import main
from server.providers.http import unreachable_reason
from server.providers.http1 import CutOff, Disconnected, NotHttp
from server.providers.registry import PROVIDERS
from server.providers.spec import ProviderSpec
from tests.live import business_api, free_port
from tests.upstream import SocketUpstream

GOOD = "good-credential-0123456789"
WRONG = "wrong-credential-9876543210"
UPSTREAM_TIMEOUT = "1"  # every call that should succeed has a second, however loaded
SPECS = {spec.name: spec for spec in PROVIDERS}
OK = re.compile(r"ok \(\d+ ms\)")


@dataclass
class Emulated:
    """Every provider's emulator, each under a prefix of its own on the session's socket."""

    url: str  # the socket's origin, as the messages name it
    base_urls: dict[str, str]
    emulators: dict[str, Any]

    def base_url(self, provider: str) -> str:
        return self.base_urls.get(provider, f"{self.url}/{provider}")


@pytest.fixture
def emulated(upstream: SocketUpstream) -> Iterator[Emulated]:
    emulators = {
        spec.name: spec.emulated.emulator(
            spec.emulated.dataset(3, 30), spec.emulated.account_id, GOOD
        )
        for spec in PROVIDERS
    }
    base_urls = {name: upstream.mount(e.app, name) for name, e in emulators.items()}
    try:
        yield Emulated(upstream.origin, base_urls, emulators)
    finally:
        for base_url in base_urls.values():
            upstream.unmount(base_url)


@pytest.fixture
def run(migrated_store: Path):  # type: ignore[no-untyped-def]
    environ = {
        "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{migrated_store}",
        "BUSINESS_API_SECRET_KEY": "cli-test-secret-key-0123456789",
        "BUSINESS_API_UPSTREAM_TIMEOUT": UPSTREAM_TIMEOUT,
    }

    def invoke(*arguments: str, input: str | None = None) -> Result:
        return CliRunner(env=environ).invoke(
            main, list(arguments), input=input, catch_exceptions=False
        )

    assert invoke("businesses", "create", "--handle", "tremble", "--name", "T").exit_code == 0
    return invoke


def add(run, spec: ProviderSpec, base_url: str, credential: str, *options: str) -> Result:  # type: ignore[no-untyped-def]
    return run(
        "connections",
        "add",
        "--business",
        "tremble",
        "--provider",
        spec.name,
        "--base-url",
        base_url,
        "--account-id",
        spec.emulated.account_id,
        "--credential",
        "-",
        *options,
        input=credential + "\n",
    )


def stored(run) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in run("connections", "list", "--json").stdout.splitlines()]


def one_line(result: Result) -> str:
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    return line


@pytest.mark.parametrize("spec", PROVIDERS, ids=[spec.name for spec in PROVIDERS])
def test_a_good_credential_is_checked_with_one_call_and_stored(
    run, emulated: Emulated, spec: ProviderSpec
) -> None:  # type: ignore[no-untyped-def]
    added = add(run, spec, emulated.base_url(spec.name), GOOD)
    assert added.exit_code == 0, added.output
    assert re.search(rf"{spec.title} accepted the credential \(\d+ ms\)\.", added.stderr)
    assert emulated.emulators[spec.name].total_requests == 1  # one call, even for Sessions
    [row] = stored(run)
    assert (row["provider"], row["base_url"]) == (spec.name, emulated.base_url(spec.name))
    assert GOOD not in added.output


@pytest.mark.parametrize("spec", PROVIDERS, ids=[spec.name for spec in PROVIDERS])
def test_a_wrong_credential_is_refused_in_one_line_and_nothing_is_stored(
    run, emulated: Emulated, spec: ProviderSpec
) -> None:  # type: ignore[no-untyped-def]
    refused = add(run, spec, emulated.base_url(spec.name), WRONG)
    line = one_line(refused)
    assert line == f"Error: {spec.title} refused the credential (HTTP 401): check --credential."
    assert WRONG not in refused.output
    assert emulated.emulators[spec.name].total_requests == 1  # a refusal is not retried
    assert stored(run) == []


def test_a_host_that_does_not_answer_is_named_with_its_port(run) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    refused = add(run, SPECS["wix"], f"http://127.0.0.1:{port}/api", GOOD)
    line = one_line(refused)
    assert f"http://127.0.0.1:{port} does not answer (connection refused, 3 tries)" in line
    assert "check --base-url" in line
    assert stored(run) == []


@pytest.mark.slow  # three tries, each until the deadline
def test_a_provider_that_never_answers_is_reported_with_the_deadline(
    run, emulated: Emulated
) -> None:  # type: ignore[no-untyped-def]
    emulated.emulators["wix"].faults.hang = True
    line = one_line(add(run, SPECS["wix"], emulated.base_url("wix"), GOOD))
    assert line == (
        f"Error: {emulated.url} does not answer (timed out after {UPSTREAM_TIMEOUT} s, 3 tries)."
    )
    assert stored(run) == []


@pytest.mark.parametrize(
    ("where", "fault", "expected"),
    [
        ("wix", {"malformed_json": True}, "(invalid JSON): check --base-url."),
        ("elsewhere", {}, "(HTTP 404): check --base-url and --account-id."),
    ],
    ids=["invalid json", "not found"],
)
def test_something_that_is_not_the_provider_is_named_as_such(
    run, emulated: Emulated, where: str, fault: dict[str, Any], expected: str
) -> None:  # type: ignore[no-untyped-def]
    for name, value in fault.items():
        setattr(emulated.emulators["wix"].faults, name, value)
    line = one_line(add(run, SPECS["wix"], emulated.base_url(where), GOOD))
    assert (
        line == f"Error: {emulated.url} answered with something that is not the Wix API {expected}"
    )
    assert stored(run) == []


def test_a_failing_provider_is_tried_again_and_then_reported(run, emulated: Emulated) -> None:  # type: ignore[no-untyped-def]
    emulated.emulators["sessionboard"].faults.status = 503
    line = one_line(add(run, SPECS["sessionboard"], emulated.base_url("sessionboard"), GOOD))
    assert line == "Error: Sessionboard failed (HTTP 503, 3 tries): try again later."
    assert emulated.emulators["sessionboard"].total_requests == 3


def test_a_credential_for_another_account_names_the_account_too(run, emulated: Emulated) -> None:  # type: ignore[no-untyped-def]
    refused = run(
        "connections",
        "add",
        "--business",
        "tremble",
        "--provider",
        "wix",
        "--base-url",
        emulated.base_url("wix"),
        "--account-id",
        "another-site",
        "--credential",
        GOOD,
    )
    line = one_line(refused)
    assert (
        line == "Error: Wix refused the credential (HTTP 403): check --credential and --account-id."
    )


@pytest.mark.parametrize("spec", PROVIDERS, ids=[spec.name for spec in PROVIDERS])
def test_no_verify_stores_without_calling_the_provider(
    run, emulated: Emulated, spec: ProviderSpec
) -> None:  # type: ignore[no-untyped-def]
    added = add(run, spec, emulated.base_url(spec.name), WRONG, "--no-verify")
    assert added.exit_code == 0, added.output
    assert emulated.emulators[spec.name].total_requests == 0
    assert [row["provider"] for row in stored(run)] == [spec.name]


@pytest.mark.parametrize("spec", PROVIDERS, ids=[spec.name for spec in PROVIDERS])
def test_connections_test_says_ok_or_what_to_fix(
    run, emulated: Emulated, spec: ProviderSpec
) -> None:  # type: ignore[no-untyped-def]
    assert add(run, spec, emulated.base_url(spec.name), GOOD).exit_code == 0
    assert add(run, spec, emulated.base_url(spec.name), WRONG, "--no-verify").exit_code == 0
    working, broken = (row["id"] for row in stored(run))
    emulated.emulators[spec.name].reset_counts()

    tested = run("connections", "test", working)
    assert tested.exit_code == 0, tested.output
    assert OK.fullmatch(tested.stdout.strip())
    assert emulated.emulators[spec.name].total_requests == 1

    failed = run("connections", "test", broken)
    assert one_line(failed) == (
        f"Error: {spec.title} refused the credential (HTTP 401): fix it with "
        f"`business-api connections update {broken} --credential -`."
    )
    assert WRONG not in failed.output and GOOD not in tested.output + failed.output


def test_connections_test_of_an_unknown_id_says_so(run) -> None:  # type: ignore[no-untyped-def]
    assert one_line(run("connections", "test", "conn_nothing")) == (
        "Error: No connection has the id 'conn_nothing'."
    )


def test_an_update_is_checked_before_it_is_stored(run, emulated: Emulated) -> None:  # type: ignore[no-untyped-def]
    wix = emulated.emulators["wix"]
    assert add(run, SPECS["wix"], emulated.base_url("wix"), GOOD).exit_code == 0
    [before] = stored(run)
    connection = before["id"]

    rotated = run("connections", "update", connection, "--credential", "-", input=WRONG + "\n")
    assert one_line(rotated) == (
        "Error: Wix refused the credential (HTTP 401): check --credential."
    )
    moved = run("connections", "update", connection, "--account-id", "another-site")
    assert "(HTTP 403)" in one_line(moved)  # checked with the stored credential
    assert stored(run) == [before]
    assert run("connections", "test", connection).exit_code == 0  # the old one still works

    wix.reset_counts()
    unchecked = run(
        "connections", "update", connection, "--credential", "-", "--no-verify", input=WRONG
    )
    assert unchecked.exit_code == 0 and wix.total_requests == 0
    assert "(HTTP 401)" in one_line(run("connections", "test", connection))
    fixed = run("connections", "update", connection, "--credential", "-", input=GOOD)
    assert fixed.exit_code == 0 and "Wix accepted the changes" in fixed.stderr
    assert OK.fullmatch(run("connections", "test", connection).stdout.strip())


def test_the_reason_a_host_does_not_answer_comes_from_the_socket_error() -> None:
    refused = ConnectionRefusedError(111, "Connect call failed")
    unknown = socket.gaierror(-2, "Name or service not known")
    assert unreachable_reason(refused) == "connection refused"
    assert unreachable_reason(unknown) == "host name not found"
    wrapped = RuntimeError("transport failed")
    wrapped.__cause__ = refused
    assert unreachable_reason(wrapped) == "connection refused"  # httpx chains its cause
    assert unreachable_reason(Disconnected()) == "closed the connection without answering"
    assert unreachable_reason(CutOff()) == "the answer was cut off"
    assert unreachable_reason(NotHttp("not an HTTP answer")) == "the answer was not HTTP"


def test_a_failed_sync_says_why_and_connections_list_keeps_saying_it(
    run, emulated: Emulated
) -> None:  # type: ignore[no-untyped-def]
    sessions = SPECS["sessions"]
    assert add(run, sessions, emulated.base_url("sessions"), WRONG, "--no-verify").exit_code == 0
    synced = run("sync")
    assert synced.exit_code == 1
    [line] = [line for line in synced.stderr.splitlines() if line.startswith("Error")]
    assert "sessions" in line and "Traceback" not in synced.stderr
    [row] = stored(run)
    assert row["last_error"] not in ("-", None) and row["last_error"] in line
    assert row["indexed"] == 0
    assert f"business-api connections update {row['id']} --credential -" in row["last_error"]


@pytest.mark.subprocess
def test_an_operators_first_session_at_a_terminal_gets_clear_answers(
    tmp_path: Path, emulated: Emulated
) -> None:
    """The setup mistakes a new operator makes, typed to the installed command: each one a
    single line saying what to do, nothing stored, no secret repeated; then it works."""
    settings = {
        "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
        "BUSINESS_API_SECRET_KEY": "cli-test-secret-key-0123456789",
        "BUSINESS_API_UPSTREAM_TIMEOUT": UPSTREAM_TIMEOUT,
    }

    def command(*arguments: str) -> subprocess.CompletedProcess[str]:
        return business_api(tmp_path, *arguments, **settings)

    def refused(*arguments: str) -> str:
        result = command(*arguments)
        assert result.returncode == 1 and result.stdout == ""
        assert "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        return line

    wix = SPECS["wix"]
    add = ("connections", "add", "--business", "tremble", "--provider", "wix")
    site = ("--account-id", wix.emulated.account_id)
    assert command("migrate").returncode == 0
    assert command("businesses", "create", "--handle", "tremble", "--name", "T").returncode == 0

    line = refused(*add, "--base-url", "not-a-url", *site, "--credential", GOOD)
    assert "--base-url must be an http(s)" in line
    line = refused(*add, "--base-url", emulated.base_url("wix"), *site, "--credential", WRONG)
    assert line == "Error: Wix refused the credential (HTTP 401): check --credential."
    assert command("connections", "list", "--json").stdout == ""  # nothing was stored
    added = command(*add, "--base-url", emulated.base_url("wix"), *site, "--credential", GOOD)
    assert added.returncode == 0 and GOOD not in added.stdout + added.stderr
    header, row = command("connections", "list").stdout.splitlines()
    assert header.split()[:3] == ["ID", "BUSINESS", "PROVIDER"]
    assert row.split()[1:3] == ["tremble", "wix"]

    key = ("keys", "create", "--business", "tremble", "--name", "crm", "--scopes")
    line = refused(*key, "registrations:read")
    assert line.startswith("Error: `registrations:read` needs `participants:read`: add it")
    created = command(*key, "participants:read")
    assert created.returncode == 0 and created.stdout.startswith("sk_")
    assert "with scopes business:read, participants:read." in created.stderr
    assert "registrations:read" in command(*key[:2], "--help").stdout
