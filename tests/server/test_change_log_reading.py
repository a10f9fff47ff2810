"""Reading the change log: the operator's GraphQL (`Business.changes`, cursors that resume
after an event) and `business-api changes list`; API keys cannot reach it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from click.testing import CliRunner

from server.changes.events import Action, Change, Kind, gid
from server.changes.log import append
from server.cli import main
from server.store.database import session_factory
from tests.server.conftest import World
from tests.server.test_admin import _admin

NOW = datetime(2026, 6, 1, 14, 32, 8, tzinfo=UTC)
CHANGES = """query($business: ID!, $after: String, $topics: [String!]) {
  node(id: $business) { ... on Business { handle
    changes(first: 2, after: $after, topics: $topics) {
      nodes { seq topic recordId participantId connection provider occurredAt observedAt fields }
      pageInfo { hasNextPage endCursor } } } } }"""
BUSINESS_IDS = "{ businesses { id handle } }"


async def _changes(world: World, handle: str, **variables: object) -> dict[str, Any]:
    listed = (await _admin(world, BUSINESS_IDS)).json()["data"]["businesses"]
    business = next(b["id"] for b in listed if b["handle"] == handle)
    return (await _admin(world, CHANGES, {"business": business, **variables})).json()


async def _logged(world: World) -> list[Change]:
    connection = world.connections["tremble"]
    participant = gid(Kind.PARTICIPANT, connection, "contact-1")
    changes = [
        Change(Kind.PARTICIPANT, Action.CREATED, participant, participant, connection, "wix", NOW),
        Change(
            Kind.PARTICIPANT,
            Action.UPDATED,
            participant,
            participant,
            connection,
            "wix",
            NOW,
            occurred_at=NOW,
            fields=("email", "emailMarketingConsent"),
        ),
        Change(
            Kind.REGISTRATION,
            Action.CREATED,
            gid(Kind.REGISTRATION, connection, "booking-1"),
            participant,
            connection,
            "wix",
            NOW,
        ),
    ]
    async with session_factory(world.services.engine)() as session, session.begin():
        await append(session, world.business_ids["tremble"], changes)
    return changes


async def test_the_operator_pages_through_a_business_s_changes_in_order(world: World) -> None:
    changes = await _logged(world)
    body = await _changes(world, "tremble")
    tremble = body["data"]["node"]
    assert tremble["handle"] == "tremble"
    first = tremble["changes"]
    assert [n["seq"] for n in first["nodes"]] == ["1", "2"]
    assert first["nodes"][1] == {
        "seq": "2",
        "topic": "participant.updated",
        "recordId": changes[1].record_gid,
        "participantId": changes[1].participant_gid,
        "connection": world.connections["tremble"],
        "provider": "wix",
        "occurredAt": "2026-06-01T14:32:08.000Z",
        "observedAt": "2026-06-01T14:32:08.000Z",
        "fields": ["email", "emailMarketingConsent"],
    }
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    rest = await _changes(world, "tremble", after=after)
    page = rest["data"]["node"]["changes"]
    assert [n["topic"] for n in page["nodes"]] == ["registration.created"]
    assert page["pageInfo"]["hasNextPage"] is False
    acme = (await _changes(world, "acme"))["data"]["node"]["changes"]
    assert acme["nodes"] == []  # another business's log is its own
    only = await _changes(world, "tremble", topics=["registration.created"])
    assert [n["seq"] for n in only["data"]["node"]["changes"]["nodes"]] == ["3"]


async def test_a_cursor_of_another_business_s_changes_is_refused(world: World) -> None:
    await _logged(world)
    body = await _changes(world, "tremble")
    after = body["data"]["node"]["changes"]["pageInfo"]["endCursor"]
    refused = await _changes(world, "acme", after=after)
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["node", "changes"]


async def test_an_api_key_cannot_read_the_change_log(world: World) -> None:
    await _logged(world)
    body = (await world.query("{ activeBusiness { changes { nodes { seq } } } }")).json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["reason"] == "NOT_EXPOSED"


async def test_changes_list_prints_the_log_after_a_number_and_by_topic(world: World) -> None:
    changes = await _logged(world)
    environ = {
        "BUSINESS_API_DATABASE_URL": world.services.settings.database_url,
        "BUSINESS_API_SECRET_KEY": str(world.services.settings.secret_key),
    }
    runner = CliRunner(env=environ)

    def invoke(*arguments: str) -> Any:  # the command runs its own event loop
        return asyncio.to_thread(runner.invoke, main, list(arguments))

    listed = await invoke("changes", "list", "--business", "tremble", "--json")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["seq"], r["topic"], r["record"]) for r in rows] == [
        (i + 1, c.topic, c.record_gid) for i, c in enumerate(changes)
    ]
    after = await invoke("changes", "list", "--business", "tremble", "--after", "1", "--limit", "1")
    header, row = after.stdout.splitlines()
    assert header.split()[:2] == ["SEQ", "TOPIC"] and row.split()[:2] == [
        "2",
        "participant.updated",
    ]
    assert "More follow: --after 2." in after.stderr
    wrong = await invoke("changes", "list", "--business", "tremble", "--topic", "x.y")
    assert wrong.exit_code == 2 and "the topics are participant.created" in wrong.output
