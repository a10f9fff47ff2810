"""What the graph needs from the data plane, as batched, canonical fetches.

The server implements these protocols (federating provider adapters); the graph only
depends on them, never on a provider or on HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import msgspec

from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantKey,
    ParticipantRecord,
    ParticipantsPage,
    Position,
    PurchaseRecord,
    RegistrationRecord,
)


class ActivitySessionKey(msgspec.Struct, frozen=True, gc=False):
    connection: str
    provider_id: str


class BusinessSource(Protocol):
    """One business's data, across all of its provider connections.

    Every method that takes a sequence answers with a list aligned with it; a failing
    provider raises `UpstreamUnavailable` for the keys it serves.
    """

    async def participants(self, *, first: int, after: Position | None) -> ParticipantsPage:
        """A page of participants from `after` (None: the start), with every connection
        that failed named in the page instead of failing the whole list."""

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

    def freshness(self) -> list[dict[str, Any]]:
        """For each connection read from an index (not live), its provider, its public id
        and `lastSyncedAt`: when its last sync completed (None before the first)."""


# The store hands out these records and the graph reads them: one record per concept.
# `id` and `business_id` are the store's own keys, used by the server and never shown.


@dataclass(frozen=True)
class BusinessRecord:
    id: int
    public_id: str
    handle: str
    name: str
    rate_limit_per_minute: int | None  # None: the server's default
    created_at: datetime


@dataclass(frozen=True)
class ApiKeyRecord:
    id: int
    key_id: str
    business_id: int
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True)
class ConnectionRecord:
    """A business's account at a provider (a provider connection)."""

    id: int
    public_id: str
    business_id: int
    provider: str
    mode: str
    base_url: str
    account_id: str
    position: int  # order among the business's connections: the order participants list in
    created_at: datetime


@dataclass(frozen=True)
class ChangeEventRecord:
    """One change of a participant, registration or purchase at a provider, as the change
    log keeps it: `seq` orders a business's events without gap or tie; `fields` names the
    graph's fields that changed (an update), `topic` is `<kind>.<created|updated|deleted>`."""

    seq: int
    topic: str
    record_gid: str
    participant_gid: str
    connection: str  # the provider connection's public id
    provider: str
    occurred_at: datetime | None  # the provider's own time of the change, when it gives one
    observed_at: datetime  # when the server saw it
    fields: tuple[str, ...]


@dataclass(frozen=True)
class WebhookSubscriptionRecord:
    """A business's webhook subscription, as the operator sees it (never its secret)."""

    public_id: str
    business: str  # its handle
    api_key_id: str  # the key id of the API key whose scopes bound its payloads
    url: str
    topics: tuple[str, ...]
    ordered: bool
    enabled: bool
    disabled_reason: str | None
    previous_secret_until: datetime | None  # while a rotated secret still signs
    pending: int
    failed: int
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
        provider: str,
        base_url: str,
        account_id: str,
        credential: str,
        mode: str | None = None,
    ) -> ConnectionRecord: ...

    async def disconnect_provider(self, public_id: str) -> ConnectionRecord: ...

    async def changes(
        self,
        business: BusinessRecord,
        *,
        after: int,
        first: int,
        topics: Sequence[str] | None,
    ) -> tuple[list[ChangeEventRecord], bool]:
        """Up to `first` of the business's change events after sequence number `after`, in
        order, and whether more follow."""
        ...

    async def webhook_subscriptions(
        self, business: BusinessRecord
    ) -> list[WebhookSubscriptionRecord]: ...

    async def create_webhook_subscription(
        self,
        business: BusinessRecord,
        *,
        url: str,
        topics: Sequence[str],
        api_key_id: str,
        ordered: bool,
    ) -> tuple[WebhookSubscriptionRecord, str]:
        """A new subscription and its signing secret, shown this once."""
        ...

    async def update_webhook_subscription(
        self,
        public_id: str,
        *,
        url: str | None,
        topics: Sequence[str] | None,
        ordered: bool | None,
    ) -> WebhookSubscriptionRecord: ...

    async def delete_webhook_subscription(self, public_id: str) -> WebhookSubscriptionRecord: ...

    async def enable_webhook_subscription(self, public_id: str) -> WebhookSubscriptionRecord: ...

    async def disable_webhook_subscription(
        self, public_id: str, reason: str | None
    ) -> WebhookSubscriptionRecord: ...

    async def rotate_webhook_secret(
        self, public_id: str
    ) -> tuple[WebhookSubscriptionRecord, str]: ...
