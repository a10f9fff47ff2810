"""What every provider adapter offers the federation.

An adapter serves one provider connection. All its failures, whatever their cause,
surface as the `errors.py` hierarchy; the federation turns them into UPSTREAM_UNAVAILABLE
for the affected fields, never passing the provider's text on to a client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantRecord,
    PurchaseRecord,
    RegistrationRecord,
)

T = TypeVar("T")


@dataclass(frozen=True)
class ProviderPage(Generic[T]):
    """One page as the provider pages: the items, and its cursor to the next page."""

    items: tuple[T, ...]
    next_cursor: str | None


class ProviderAdapter(Protocol):
    provider: str
    connection: str  # the connection's public id, stamped into every key it returns

    async def list_participants(
        self, *, cursor: str | None, limit: int
    ) -> ProviderPage[ParticipantRecord]: ...

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
