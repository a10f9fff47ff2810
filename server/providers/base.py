"""What every provider adapter offers the federation.

An adapter serves one provider connection. All its failures, whatever their cause,
surface as the `errors.py` hierarchy; the federation turns them into UPSTREAM_UNAVAILABLE
for the affected fields, never passing the provider's text on to a client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantRecord,
    PurchaseRecord,
    RegistrationRecord,
)


@dataclass(frozen=True)
class Listed:
    """A stretch of one connection's participants, in the provider's stable order.

    Each participant comes with the position just after it, in the adapter's own format
    (a cursor and a skip, a page and an index, an offset, a keyset), or None when nothing
    follows it. `end` is where the next stretch starts: the last participant's position,
    or None once the connection has no more. The federation only carries positions back.
    """

    participants: tuple[tuple[ParticipantRecord, str | None], ...]
    end: str | None


class ProviderAdapter(Protocol):
    provider: str
    connection: str  # the connection's public id, stamped into every key it returns

    async def list_participants(self, *, position: str | None, limit: int) -> Listed:
        """Up to `limit` participants from `position` (None: the first one)."""

    async def participants_by_id(self, ids: Sequence[str]) -> dict[str, ParticipantRecord]: ...

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None]: ...

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord]]: ...

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord]]: ...

    async def activity_sessions(self, ids: Sequence[str]) -> dict[str, ActivitySessionRecord]: ...
