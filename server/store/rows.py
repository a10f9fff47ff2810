"""Plain, immutable records and errors returned by the store.

Records are copied out of ORM objects so callers never hold a session-bound object
(no lazy loads, no accidental writes, safe to cache and share across tasks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .models import ApiKey, Business, ProviderConnection


@dataclass(frozen=True)
class BusinessRow:
    id: int
    public_id: str
    handle: str
    name: str
    rate_limit_per_minute: int | None
    created_at: datetime


@dataclass(frozen=True)
class ApiKeyRow:
    id: int
    key_id: str
    business_id: int
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class ConnectionRow:
    id: int
    public_id: str
    business_id: int
    kind: str
    base_url: str
    account_id: str
    mode: str
    position: int
    created_at: datetime


@dataclass(frozen=True)
class ConnectionConfig:
    """A connection plus its decrypted credential, for building provider clients."""

    connection: ConnectionRow
    credential: str = field(repr=False)  # never in logs or tracebacks


class StoreError(Exception):
    """Base class for errors a caller is expected to handle."""


class HandleTaken(StoreError):
    pass


class InvalidHandle(StoreError, ValueError):
    pass


class InvalidConnection(StoreError, ValueError):
    """Unknown connection kind or mode."""


class BusinessNotFound(StoreError, LookupError):
    pass


class KeyNotFound(StoreError, LookupError):
    pass


class ConnectionNotFound(StoreError, LookupError):
    pass


def to_business_row(b: Business) -> BusinessRow:
    return BusinessRow(
        id=b.id,
        public_id=b.public_id,
        handle=b.handle,
        name=b.name,
        rate_limit_per_minute=b.rate_limit_per_minute,
        created_at=b.created_at,
    )


def to_key_row(k: ApiKey) -> ApiKeyRow:
    return ApiKeyRow(
        id=k.id,
        key_id=k.key_id,
        business_id=k.business_id,
        name=k.name,
        scopes=tuple(k.scopes or ()),
        created_at=k.created_at,
        last_used_at=k.last_used_at,
        revoked_at=k.revoked_at,
        expires_at=k.expires_at,
    )


def to_connection_row(c: ProviderConnection) -> ConnectionRow:
    return ConnectionRow(
        id=c.id,
        public_id=c.public_id,
        business_id=c.business_id,
        kind=c.kind,
        base_url=c.base_url,
        account_id=c.account_id,
        mode=c.mode,
        position=c.position,
        created_at=c.created_at,
    )
