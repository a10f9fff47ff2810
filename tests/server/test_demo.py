"""`business-api demo`, run as a user runs it: a process, a port, a printed key."""

from __future__ import annotations

from pathlib import Path

import httpx

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


def test_the_readme_query_pages_through_participants_of_both_providers(tmp_path: Path) -> None:
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
    assert len({n["id"] for n in nodes}) == len(nodes) == 600
    # Wix records consent (everyone has an email there); Sessionboard records none.
    wix = [n for n in nodes if n["emailMarketingConsent"] is not None]
    sessionboard = [n for n in nodes if n["emailMarketingConsent"] is None]
    assert len(wix) == len(sessionboard) == 300
    assert nodes[:300] == wix  # connection by connection, in the order they were made
    for group in (wix, sessionboard):
        assert sum(len(n["registrations"]["nodes"]) for n in group) > 100
    assert any(n["productPurchases"]["nodes"] for n in wix)
    assert not any(n["productPurchases"]["nodes"] for n in sessionboard)
