"""What change detection is checked against: the API itself.

Before and after each change to an emulator, every participant of a business, with its
registrations and purchases, is read through the GraphQL endpoint; what the change log
says happened in between must be exactly the difference: a record the API did not list
before is one `created`, one it lists no more is one `deleted`, one whose fields differ
is one `updated` naming those fields, each with the GIDs the API returns.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from schema.source import ChangeEventRecord
from server.providers.emulated.mutations import Intent
from tests.server.conftest import World

EVERYONE = """query($after: String) { activeBusiness { participants(first: 10, after: $after) {
  nodes { id name email emailMarketingConsent { status at }
    registrations(first: 100) { nodes { id status confirmedAt activitySession { id } } }
    productPurchases(first: 100) { nodes { id status pricePaid purchasedAt product { id } } } }
  pageInfo { hasNextPage endCursor } } } }"""

# What each kind of record shows, as the change log names its fields.
SHOWN = {
    "participant": ("name", "email", "emailMarketingConsent"),
    "registration": ("status", "confirmedAt", "activitySession"),
    "purchase": ("status", "pricePaid", "purchasedAt", "product"),
}

RELATIONS = (("registration", "registrations"), ("purchase", "productPurchases"))

# A record as the API lists it: (kind, GID) -> (its participant's GID, its fields).
Listed = dict[tuple[str, str], tuple[str, dict[str, Any]]]


@dataclass(frozen=True, order=True)
class Expected:
    topic: str
    record_gid: str
    participant_gid: str
    fields: tuple[str, ...]

    @staticmethod
    def of(event: ChangeEventRecord) -> Expected:
        return Expected(event.topic, event.record_gid, event.participant_gid, event.fields)


async def listed(world: World, handle: str) -> Listed:
    records: Listed = {}
    after = None
    while True:
        body = (await world.query(EVERYONE, {"after": after}, key=handle, handle=handle)).json()
        assert "errors" not in body, body["errors"]
        page = body["data"]["activeBusiness"]["participants"]
        for node in page["nodes"]:
            owner = node["id"]
            records[("participant", owner)] = (owner, {f: node[f] for f in SHOWN["participant"]})
            for kind, relation in RELATIONS:
                related = node[relation]["nodes"]
                assert len(related) < 100, "a participant with more records than one page"
                for record in related:
                    records[(kind, record["id"])] = (owner, {f: record[f] for f in SHOWN[kind]})
        if not page["pageInfo"]["hasNextPage"]:
            return records
        after = page["pageInfo"]["endCursor"]


def difference(before: Listed, after: Listed) -> list[Expected]:
    """The events that account for the API's records going from `before` to `after`."""
    expected = []
    for key in after.keys() - before.keys():
        expected.append(Expected(f"{key[0]}.created", key[1], after[key][0], ()))
    for key in before.keys() - after.keys():
        expected.append(Expected(f"{key[0]}.deleted", key[1], before[key][0], ()))
    for key in before.keys() & after.keys():
        was, now = before[key][1], after[key][1]
        if names := tuple(f for f in SHOWN[key[0]] if was[f] != now[f]):
            expected.append(Expected(f"{key[0]}.updated", key[1], after[key][0], names))
    return sorted(expected)


async def logged_since(world: World, handle: str, after: int) -> list[ChangeEventRecord]:
    events, more = await world.services.changes.read(
        world.business_ids[handle], after=after, first=10_000
    )
    assert not more
    return events


def changes_of(emulator: Any, intents: Iterable[Intent], seed: int) -> list[dict[str, Any]]:
    """Apply one change per intent the emulator can make; the answers."""
    rng = random.Random(seed)
    done = []
    for intent in intents:
        change = emulator.propose(intent, rng)
        if change is not None:
            done.append(emulator.mutate(change))
    return done
