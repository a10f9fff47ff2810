"""`business-api demo`, run as a user runs it: a process, a port, a printed key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from server.providers.registry import FOLDERS as PROVIDER_NAMES
from tests.live import running_demo
from tests.server.documents import EXAMPLE_QUERY


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


def test_running_the_demo_again_reuses_the_store_and_mints_a_new_key(tmp_path: Path) -> None:
    runs = []
    for _ in range(2):
        with running_demo(tmp_path) as demo:
            response = httpx.post(
                demo.graphql_url,
                json={"query": "{ activeBusiness { id participants(first: 1) { nodes { id } } } }"},
                headers={"Authorization": f"Bearer {demo.key}"},
                timeout=30,
            )
            runs.append((demo.key, response.json()["data"]["activeBusiness"]))
    (first_key, first), (second_key, second) = runs
    assert first_key != second_key
    assert first["id"] == second["id"]
    assert first["participants"]["nodes"] == second["participants"]["nodes"]


def readme_query() -> str:
    """The README's first query, the one a new user tries first, made to page."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    query = readme.split("```graphql\n", 1)[1].split("```", 1)[0]
    assert "participants(first: 25)" in query and "pageInfo { hasNextPage endCursor }" in query
    return query.replace("query {", "query($after: String) {", 1).replace(
        "participants(first: 25)", "participants(first: 25, after: $after)"
    )


def connections_of(database: Path) -> dict[str, str]:
    """The demo store's connections: public id -> provider."""
    with sqlite3.connect(database) as db:
        return dict(db.execute("SELECT public_id, provider FROM provider_connections"))


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
