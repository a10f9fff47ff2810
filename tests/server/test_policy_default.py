"""With the committed policy, the same field is hidden everywhere at once."""

from __future__ import annotations

from tests.server.conftest import World
from tests.server.test_policy_change import SESSION_FIELDS, TITLES


async def test_an_unexposed_field_is_forbidden_hidden_and_undocumented(world: World) -> None:
    body = (await world.query(TITLES)).json()
    assert body["errors"][0]["extensions"]["reason"] == "NOT_EXPOSED"
    assert body["errors"][0]["path"][-1] == "title"
    fields = (await world.query(SESSION_FIELDS)).json()["data"]["__type"]["fields"]
    assert [f["name"] for f in fields] == ["id"]
    page = (await world.client.get("/@tremble/api/reference")).text
    assert 'id="ActivitySession.id"' in page
    assert 'id="ActivitySession.title"' not in page
