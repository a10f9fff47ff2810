"""A change as detection finds it, before the log numbers it.

Topics are `<kind>.<created|updated|deleted>` for the three kinds of record a business's
providers hold; a participant's marketing consent is part of the participant. GIDs are the
API's own (`schema/gids.py`), so a webhook's GID is the one a query returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from schema.gids import encode_gid


class Kind(StrEnum):
    PARTICIPANT = "participant"
    REGISTRATION = "registration"
    PURCHASE = "purchase"

    @property
    def type_name(self) -> str:
        """The graph's type of this kind of record: its GIDs' type."""
        return _TYPE_NAMES[self]


_TYPE_NAMES = {
    Kind.PARTICIPANT: "BusinessParticipant",
    Kind.REGISTRATION: "ActivityRegistration",
    Kind.PURCHASE: "ProductPurchase",
}


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


TOPICS: tuple[str, ...] = tuple(f"{kind}.{action}" for kind in Kind for action in Action)


def gid(kind: Kind, connection: str, provider_id: str) -> str:
    return str(encode_gid(kind.type_name, connection, provider_id))


@dataclass(frozen=True)
class Change:
    """One record that appeared (`CREATED`), changed (`UPDATED`, naming the graph's fields
    that changed) or went away (`DELETED`) at one provider connection.

    `snapshot` is the record's fields as the API shows them, at detection, for deliveries
    that carry them; the change log itself keeps none of it."""

    kind: Kind
    action: Action
    record_gid: str
    participant_gid: str
    connection: str
    provider: str
    observed_at: datetime
    occurred_at: datetime | None = None
    fields: tuple[str, ...] = ()
    snapshot: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def topic(self) -> str:
        return f"{self.kind}.{self.action}"
