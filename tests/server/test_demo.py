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
