"""Editing the policy file changes enforcement, introspection and the reference together."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import DEFAULT_POLICY
from tests.server.conftest import ALL_SCOPES, World

TITLES = """{ activeBusiness { participants(first: 5) { nodes {
  registrations { nodes { activitySession { id title } } } } } } }"""
SESSION_FIELDS = '{ __type(name: "ActivitySession") { fields { name } } }'


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    edited = text.replace(
        '[expose.ActivitySession]\nid = "registrations:read"\n',
        '[expose.ActivitySession]\nid = "registrations:read"\ntitle = "registrations:read"\n',
    )
    assert edited != text
    path = tmp_path / "policy.toml"
    path.write_text(edited, encoding="utf-8")
    return path


async def test_exposing_a_field_makes_it_readable_introspectable_and_documented(
    world: World,
) -> None:
    body = (await world.query(TITLES)).json()
    assert "errors" not in body, body
    sessions = [
        r["activitySession"]
        for n in body["data"]["activeBusiness"]["participants"]["nodes"]
        for r in n["registrations"]["nodes"]
    ]
    assert sessions and all(s["title"] for s in sessions)

    fields = (await world.query(SESSION_FIELDS)).json()["data"]["__type"]["fields"]
    assert [f["name"] for f in fields] == ["id", "title"]

    page = (await world.client.get("/@tremble/api/reference")).text
    assert 'id="ActivitySession.title"' in page


async def test_the_exposed_field_still_needs_its_scope(world: World) -> None:
    _, key = await world.services.store.create_api_key(
        world.business_ids["tremble"],
        name="no registrations",
        scopes=[s for s in ALL_SCOPES if s != "registrations:read"],
    )
    query = "{ activeBusiness { participants { nodes { id } } } }"
    assert "errors" not in (await world.query(query, key=key)).json()
    refused = (await world.query(TITLES, key=key)).json()
    assert refused["errors"][0]["extensions"]["reason"] == "MISSING_SCOPE"
