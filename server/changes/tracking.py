"""One pass's change detection on one connection: whose changes they are, which full
pass stamps what it sees, and whether the pass may speak at all.

A connection's first full pass (a new connection, or one that was crawled before change
tracking existed) records what is there and emits nothing: a new connection is not ten
thousand `created` events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.changes.events import Action, Change, Kind, gid
from server.changes.fields import Fields


@dataclass(frozen=True)
class Tracking:
    business_id: int
    connection_id: int
    connection: str  # its public id: the GIDs' and the log's
    provider: str
    full_pass: int  # the number stamped on every record this pass sees
    emit: bool  # False during the connection's first full pass
    observed_at: datetime

    def change(
        self,
        kind: Kind,
        action: Action,
        provider_id: str,
        participant_id: str,
        *,
        fields: tuple[str, ...] = (),
        occurred_at: datetime | None = None,
        snapshot: Fields | None = None,
    ) -> Change:
        return Change(
            kind=kind,
            action=action,
            record_gid=gid(kind, self.connection, provider_id),
            participant_gid=gid(Kind.PARTICIPANT, self.connection, participant_id),
            connection=self.connection,
            provider=self.provider,
            observed_at=self.observed_at,
            occurred_at=occurred_at,
            fields=fields,
            snapshot=snapshot,
        )
