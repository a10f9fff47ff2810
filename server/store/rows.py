"""The records the store hands out (the graph's own, from `schema.source`), built from
ORM rows so callers never hold a session-bound object, and the store's errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schema.source import ApiKeyRecord, BusinessRecord, ConnectionRecord

from .models import ApiKey, Business, ProviderConnection


@dataclass(frozen=True)
class ConnectionConfig:
    """A connection with its credential decrypted, for building its runtime. When the
    credential cannot be decrypted (the secret key changed), `credential` is None and
    `problem` says so."""

    connection: ConnectionRecord
    credential: str | None = field(repr=False)  # never in logs or tracebacks
    problem: str | None = None
    fingerprint: str = field(default="", repr=False)  # changes when the row changes
    synced_at: datetime | None = None  # an indexed connection's last completed sync


class StoreError(Exception):
    """Base class for errors a caller is expected to handle."""


class HandleTaken(StoreError):
    pass


class InvalidHandle(StoreError, ValueError):
    pass


class InvalidConnection(StoreError, ValueError):
    """Unknown provider or mode."""


class BusinessNotFound(StoreError, LookupError):
    pass


class KeyNotFound(StoreError, LookupError):
    pass


class KeyNotActive(StoreError, ValueError):
    """A revoked or expired key, asked to do what only a working key may."""


class ConnectionNotFound(StoreError, LookupError):
    pass


def business_record(b: Business) -> BusinessRecord:
    return BusinessRecord(
        id=b.id,
        public_id=b.public_id,
        handle=b.handle,
        name=b.name,
        rate_limit_per_minute=b.rate_limit_per_minute,
        created_at=b.created_at,
    )


def key_record(k: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
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


def connection_record(c: ProviderConnection) -> ConnectionRecord:
    return ConnectionRecord(
        id=c.id,
        public_id=c.public_id,
        business_id=c.business_id,
        provider=c.provider,
        mode=c.mode,
        base_url=c.base_url,
        account_id=c.account_id,
        position=c.position,
        created_at=c.created_at,
    )
