"""`business-api demo`, run as a user runs it: a process in a folder, a port, a printed key,
and the `business-api` command run in that folder afterwards."""

from __future__ import annotations

import json
import shlex
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from server.demo_env import DEMO_ENV_FILE, DEMO_KEY, read_env_file, write_env_file
from server.providers.registry import FOLDERS as PROVIDER_NAMES
from tests.live import LiveDemo, business_api, running_demo
from tests.server.documents import EXAMPLE_QUERY

pytestmark = pytest.mark.subprocess

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_the_demo_serves_the_documents_query_with_the_key_it_prints(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        response = httpx.post(
            demo.graphql_url,
            json={"query": EXAMPLE_QUERY},
            headers={"Authorization": f"Bearer {demo.key}"},
            timeout=30,
        )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    business = body["data"]["activeBusiness"]
    assert business["name"] == "Tremble Studios"
    assert len(business["participants"]["nodes"]) == 25


def _participant_page(demo: LiveDemo, key: str) -> httpx.Response:
    return httpx.post(
        demo.graphql_url,
        json={"query": "{ activeBusiness { id participants(first: 1) { nodes { id } } } }"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def _key_note(demo: LiveDemo) -> str:
    """What the demo says of the key it printed: reused or new."""
    return demo.printed.wait_for(r"^\((the same key|a new key).*\)$").group(0)


def _key_states(folder: Path) -> dict[str, str]:
    """Key id -> active/revoked, as `business-api keys list` in the demo's folder says."""
    listed = business_api(folder, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    states = {}
    for line in listed.stdout.splitlines():
        words = line.split()
        state = next((w for w in words if w in ("active", "revoked", "expired")), None)
        if state:
            states[words[0]] = state
    return states


def _key_id(key: str) -> str:
    return key.split("_")[1]


def test_running_the_demo_again_reuses_the_store_and_its_key(tmp_path: Path) -> None:
    runs = []
    for _ in range(2):
        with running_demo(tmp_path) as demo:
            response = _participant_page(demo, demo.key)
            runs.append((demo.key, _key_note(demo), response.json()["data"]["activeBusiness"]))
    (first_key, first_note, first), (second_key, second_note, second) = runs
    assert first_note == "(a new key with every scope)"
    assert second_key == first_key
    assert second_note == "(the same key as the last run)"
    assert first["id"] == second["id"]
    assert first["participants"]["nodes"] == second["participants"]["nodes"]
    assert _key_states(tmp_path) == {_key_id(first_key): "active"}
    _assert_git_ignores_what_holds_secrets(tmp_path)


def _assert_git_ignores_what_holds_secrets(folder: Path) -> None:
    """Run in a checkout, the demo's store and settings file (the secret key, the key)
    never show up as files to commit."""
    written = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert DEMO_ENV_FILE.name in written and any(n.endswith(".db") for n in written)
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin", "-v", "-n"],
        input="".join(f"{name}\n" for name in [*written, "business-api.secret"]),
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    unignored = [line for line in checked.stdout.splitlines() if line.startswith("::")]
    assert checked.stdout and not unignored, unignored


def test_a_demo_key_the_store_no_longer_accepts_is_replaced_and_earlier_ones_revoked(
    tmp_path: Path,
) -> None:
    with running_demo(tmp_path) as demo:
        first = demo.key
    revoked = business_api(tmp_path, "keys", "revoke", _key_id(first))
    assert revoked.returncode == 0, revoked.stderr

    with running_demo(tmp_path) as demo:
        second = demo.key
        assert second != first
        assert _key_note(demo) == "(a new key with every scope)"
        assert _participant_page(demo, second).status_code == 200
        assert _participant_page(demo, first).status_code == 401

    # A store whose key the env file does not hold (as one an earlier version left, with a
    # new key every run): a new key, and every earlier demo key stops working.
    env_file = tmp_path / DEMO_ENV_FILE.name
    saved = read_env_file(env_file)
    del saved[DEMO_KEY]
    write_env_file(env_file, saved)
    with running_demo(tmp_path) as demo:
        third = demo.key
        assert third not in (first, second)
        assert _key_note(demo) == "(a new key with every scope; 1 earlier demo key revoked)"
        assert _participant_page(demo, third).status_code == 200
        assert _participant_page(demo, second).status_code == 401
    assert _key_states(tmp_path) == {
        _key_id(first): "revoked",
        _key_id(second): "revoked",
        _key_id(third): "active",
    }


def test_the_demo_prints_where_to_go_and_each_address_answers(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        printed = demo.printed
        base = demo.base_url
        assert printed.wait_for(r"^Serving at (\S+)$").group(1) == base
        for label, path in (
            ("Landing page", "/"),
            ("Explorer", "/@tremble/api/graphql"),
            ("Reference", "/@tremble/api/reference"),
        ):
            url = printed.wait_for(rf"^  {label}: +(\S+)").group(1)
            assert url == base + path
            page = httpx.get(url, headers=BROWSER, timeout=30)
            assert page.status_code == 200, url
            assert page.headers["content-type"].startswith("text/html"), url
        # Each request is logged, on the same stream as the rest of the prose.
        printed.wait_for(r'"method":"GET","path":"/@tremble/api/reference","status":200')

        # The printed curl command, as a shell would split it, answers the example query.
        curl = shlex.split(printed.wait_for(r"^curl -s .*$").group(0))
        headers = dict(curl[i + 1].split(": ", 1) for i, word in enumerate(curl) if word == "-H")
        assert headers["Authorization"] == f"Bearer {demo.key}"
        body = curl[curl.index("-d") + 1]
        answer = httpx.post(curl[2], content=body, headers=headers, timeout=30).json()
        assert "errors" not in answer, answer
        participants = answer["data"]["activeBusiness"]["participants"]
        assert len(participants["nodes"]) == 25

        # One line per provider: its emulator's base URL, account id and credential.
        accounts = dict(connections_of(tmp_path / "demo.db", "provider, account_id"))
        for name in PROVIDER_NAMES:
            line = printed.wait_for(rf"^  {name} +(\S+)  --account-id (\S+)  --credential (\S+)$")
            assert line.group(1) == f"{base}/_emulators/{name}"
            assert shlex.split(line.group(2)) == [accounts[name]]
        printed.wait_for(r"^  business-api connections add --business acme --provider ")
        assert printed.wait_for(r"settings are in (\S+)$").group(1) == str(
            (tmp_path / DEMO_ENV_FILE.name).resolve()
        )


def test_the_cli_run_in_the_demo_folder_manages_the_demo_store(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        env_file = tmp_path / DEMO_ENV_FILE.name
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        listed = business_api(tmp_path, "keys", "list")
        assert listed.returncode == 0, listed.stderr
        assert listed.stderr.splitlines()[0] == (
            "Using settings from business-api-demo.env (written by business-api demo)."
        )
        assert _key_states(tmp_path) == {_key_id(demo.key): "active"}

        # The commands the demo prints connect another business to one of its emulators.
        for pattern in (
            r"^  (business-api businesses create .*)$",
            r"^  (business-api connections add .*)$",
        ):
            command = shlex.split(demo.printed.wait_for(pattern).group(1))
            done = business_api(tmp_path, *command[1:])
            assert done.returncode == 0, done.stderr
        minted = business_api(
            tmp_path,
            "keys",
            "create",
            "--business",
            "acme",
            "--name",
            "try",
            "--scopes",
            "business:read,participants:read",
        )
        assert minted.returncode == 0, minted.stderr
        answer = httpx.post(
            f"{demo.base_url}/@acme/api/graphql",
            json={"query": "{ activeBusiness { participants(first: 3) { nodes { name } } } }"},
            headers={"Authorization": f"Bearer {minted.stdout.strip()}"},
            timeout=30,
        ).json()
        assert "errors" not in answer, answer
        assert len(answer["data"]["activeBusiness"]["participants"]["nodes"]) == 3

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = business_api(elsewhere, "keys", "list")
    assert outside.returncode != 0
    assert "Using settings" not in outside.stderr
    assert "BUSINESS_API_SECRET_KEY is not set" in outside.stderr


def readme_query() -> str:
    """The README's first query, the one a new user tries first, made to page."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    query = readme.split("```graphql\n", 1)[1].split("```", 1)[0]
    assert "participants(first: 25)" in query and "pageInfo { hasNextPage endCursor }" in query
    return query.replace("query {", "query($after: String) {", 1).replace(
        "participants(first: 25)", "participants(first: 25, after: $after)"
    )


def connections_of(database: Path, columns: str = "public_id, provider") -> dict[str, str]:
    """The demo store's connections: public id -> provider, or two other columns."""
    with sqlite3.connect(database) as db:
        return dict(db.execute(f"SELECT {columns} FROM provider_connections"))


def connection_of(gid: str) -> str:
    """The connection a GID names (tests may look inside; clients must not)."""
    from schema.gids import decode_gid

    return decode_gid(gid).connection


def test_the_readme_query_pages_through_participants_of_every_provider(tmp_path: Path) -> None:
    query = readme_query()
    with running_demo(tmp_path) as demo:
        nodes, after = [], None
        while True:
            body = httpx.post(
                demo.graphql_url,
                json={"query": query, "variables": {"after": after}},
                headers={"Authorization": f"Bearer {demo.key}"},
                timeout=30,
            ).json()
            assert "errors" not in body, body
            participants = body["data"]["activeBusiness"]["participants"]
            nodes += participants["nodes"]
            if not participants["pageInfo"]["hasNextPage"]:
                break
            after = participants["pageInfo"]["endCursor"]
    assert len({n["id"] for n in nodes}) == len(nodes)
    providers = connections_of(tmp_path / "demo.db")
    by_provider: dict[str, list[dict]] = {}
    for node in nodes:
        by_provider.setdefault(providers[connection_of(node["id"])], []).append(node)
    assert sorted(by_provider) == sorted(PROVIDER_NAMES)
    order = [providers[connection_of(n["id"])] for n in nodes]
    assert order == sorted(order, key=PROVIDER_NAMES.index)  # connection by connection
    for provider, group in by_provider.items():
        assert sum(len(n["registrations"]["nodes"]) for n in group) > 50, provider
    assert all(n["emailMarketingConsent"] for n in by_provider["wix"])
    assert any(n["productPurchases"]["nodes"] for n in by_provider["wix"])
    for provider in PROVIDER_NAMES[1:]:  # no consent, no purchases
        assert not any(n["emailMarketingConsent"] for n in by_provider[provider])
        assert not any(n["productPurchases"]["nodes"] for n in by_provider[provider])


def test_the_demo_shows_change_events_and_their_webhooks_within_a_minute(
    tmp_path: Path,
) -> None:
    """Its activity changes the emulated providers' data; the background sync watches
    and crawls them; `changes list` in its folder shows the events, and its own receiver
    the signed deliveries of them."""
    with running_demo(tmp_path) as demo:
        demo.printed.wait_for(r"business-api changes list --business tremble")
        deadline = time.monotonic() + 60
        events: list[dict] = []
        while not events and time.monotonic() < deadline:
            time.sleep(2)
            listed = business_api(tmp_path, "changes", "list", "--business", "tremble", "--json")
            assert listed.returncode == 0, listed.stderr
            events = [json.loads(line) for line in listed.stdout.splitlines()]
        page = ""
        while "gid://" not in page and time.monotonic() < deadline:
            page = httpx.get(f"{demo.base_url}/_webhooks/", timeout=30).text
            time.sleep(1)
    assert events, "no change event within 60 s of the demo announcing itself"
    # Its receiver verified them (signature and timestamp) and shows them.
    assert events[0]["topic"] in page and "gid://" in page
    assert all(
        e["topic"].split(".")[0] in ("participant", "registration", "purchase") for e in events
    )
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
