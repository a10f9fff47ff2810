"""What the graph needs from the data plane, as batched, canonical fetches.

The server implements these protocols (federating provider adapters); the graph only
depends on them, never on a provider or on HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    Page,
    ParticipantKey,
    ParticipantRecord,
    PurchaseRecord,
    RegistrationRecord,
)


@dataclass(frozen=True)
class ActivitySessionKey:
    connection: str
    provider_id: str


class BusinessSource(Protocol):
    """One business's data, across all of its provider connections.

    Every method that takes a sequence answers with a list aligned with it; a failing
    provider raises `UpstreamUnavailable` for the keys it serves.
    """

    async def participants(
        self, *, first: int, after: str | None
    ) -> Page[tuple[ParticipantRecord, str]]:
        """A page of participants, each with the position just after it."""

    async def participants_by_key(
        self, keys: Sequence[ParticipantKey]
    ) -> list[ParticipantRecord | None | BaseException]: ...

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None | BaseException]: ...

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord] | BaseException]: ...

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord] | BaseException]: ...

    async def activity_sessions(
        self, keys: Sequence[ActivitySessionKey]
    ) -> list[ActivitySessionRecord | None | BaseException]: ...


@dataclass(frozen=True)
class BusinessRecord:
    public_id: str
    handle: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class ConnectionRecord:
    public_id: str
    kind: str
    mode: str
    base_url: str
    account_id: str
    created_at: datetime


class Directory(Protocol):
    """The store as the graph sees it: businesses, their keys and connections.

    Reaching any of this from an API key is denied by the policy before execution; the
    operator's endpoint reaches all of it.
    """

    def source(self, business: BusinessRecord) -> BusinessSource: ...

    async def businesses(self) -> list[BusinessRecord]: ...

    async def business(self, public_id: str) -> BusinessRecord | None: ...

    async def business_of_connection(self, public_id: str) -> BusinessRecord | None: ...

    async def api_keys(self, business: BusinessRecord) -> list[ApiKeyRecord]: ...

    async def connections(self, business: BusinessRecord) -> list[ConnectionRecord]: ...

    async def create_api_key(
        self,
        business: BusinessRecord,
        *,
        name: str,
        scopes: Sequence[str],
        expires_at: datetime | None,
    ) -> tuple[ApiKeyRecord, str]: ...

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord: ...

    async def connect_provider(
        self,
        business: BusinessRecord,
        *,
        kind: str,
        base_url: str,
        account_id: str,
        credential: str,
    ) -> ConnectionRecord: ...

    async def disconnect_provider(self, public_id: str) -> ConnectionRecord: ...
