"""What a delivery says of a change, bounded by the subscription's API key.

The body is Standard Webhooks' `{"type", "timestamp", "data"}`; `data` carries the
record's GID and its participant's, the change's number in the business's log (a string,
as the API's `ChangeEvent.seq`), when the provider says it happened, the names of the
fields that changed, and the record's fields as the API shows them (GIDs, lowercase
enums, `2026-06-01T14:32:08.000Z`), only those the key may read. An update that changed
nothing the key may read is not delivered at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from schema.policy.model import Policy
from schema.scalars import Instant
from server.changes.events import Action, Change, Kind

Readable = Callable[[str, str], bool]  # (type, field) -> whether the key may read it


def readable_by(policy: Policy, scopes: Collection[str]) -> Readable:
    held = {*scopes, *policy.implicit}

    def readable(type_name: str, field: str) -> bool:
        scope = policy.scope_for(type_name, field)
        return scope is not None and scope in held

    return readable


def topic_scope(policy: Policy, topic: str) -> str | None:
    """The scope a key needs for a topic: the one that reads its kind's records."""
    kind = Kind(topic.split(".", 1)[0])
    return policy.scope_for(kind.type_name, "id")


def body(change: Change, seq: int, readable: Readable) -> dict[str, Any] | None:
    type_name = change.kind.type_name
    changed = [name for name in change.fields if readable(type_name, name)]
    if change.action is Action.UPDATED and not changed:
        return None
    record = None
    if change.snapshot is not None:
        record = {k: v for k, v in change.snapshot.items() if readable(type_name, k)}
    return {
        "type": change.topic,
        "timestamp": str(Instant.at(change.observed_at)),
        "data": {
            "id": change.record_gid,
            "participantId": change.participant_gid,
            "seq": str(seq),
            "connection": change.connection,
            "provider": change.provider,
            "occurredAt": str(Instant.at(change.occurred_at)) if change.occurred_at else None,
            "changedFields": changed,
            "record": record,
        },
    }


def ping(subscription: str, at: Any) -> dict[str, Any]:
    """`webhooks test`: a delivery that says only that the endpoint is reached."""
    data = {"subscription": subscription}
    return {"type": "ping", "timestamp": str(Instant.at(at)), "data": data}
