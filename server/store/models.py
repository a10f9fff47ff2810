"""SQLAlchemy models for the store.

The schema itself is owned by the Alembic migrations in ``migrations/versions``; these
models describe the same tables for querying and must be kept in step with them (a test
compares the two).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

CONNECTION_MODES: tuple[str, ...] = ("live", "indexed")

# Deterministic constraint names so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime that is always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz``; SQLite has no timezone support, so the value is
    stored as naive UTC there and marked as UTC again on read. Naive datetimes are
    rejected on write because their meaning is ambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def new_business_public_id() -> str:
    """Opaque, unguessable-enough identifier exposed instead of the integer id."""
    return "biz_" + secrets.token_hex(4)


def new_connection_public_id() -> str:
    """Opaque identifier for a provider connection."""
    return "conn_" + secrets.token_hex(4)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Business(Base):
    """A tenant: every key and connection belongs to exactly one business."""

    __tablename__ = "businesses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_business_public_id)
    handle: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The last sequence number its change log gave out (`server/changes/log.py`).
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ApiKey(Base):
    """An API key; the secret is never stored, only its hash."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    business_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ProviderConnection(Base):
    """A business's account on an upstream platform, with its encrypted credential."""

    __tablename__ = "provider_connections"
    __table_args__ = (UniqueConstraint("business_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=new_connection_public_id
    )
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(500))
    account_id: Mapped[str] = mapped_column(String(200))
    credential_encrypted: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StoreRevision(Base):
    """One row whose number goes up with every change that running servers cache (a
    connection added, changed or removed, a key revoked, a limit changed, a sync ended),
    so each server can notice another process's change with one cheap query in the
    background instead of a query per request. Its row lock orders the invalidation log."""

    __tablename__ = "store_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)


class StoreInvalidation(Base):
    """What one revision changed, one row per thing (`server/store/invalidation.py`): a server
    reads the rows after the revision it last saw and drops only what they name."""

    __tablename__ = "store_invalidations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))


# The index of `indexed` connections: what their crawlers found, in the graph's own
# terms. Instants are kept as their output text (`2026-06-01T14:32:08.000Z`).


class IndexedParticipant(Base):
    """`id` only grows, so it is the stable order participants list in: one found later
    comes after every one found before."""

    __tablename__ = "index_participants"
    __table_args__ = (
        UniqueConstraint("connection_id", "provider_id"),
        # A page is `connection_id = ? AND id > ? ORDER BY id`: read within the connection.
        Index("ix_index_participants_keyset", "connection_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("provider_connections.id", ondelete="CASCADE")
    )
    provider_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    email: Mapped[str | None] = mapped_column(String(400), nullable=True)
    created_at: Mapped[str | None] = mapped_column(String(24), nullable=True)
    # The last full crawl that found it: one a later full crawl does not find is gone.
    seen_pass: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class IndexedSession(Base):
    __tablename__ = "index_sessions"
    # What a crawler re-checks: the connection's sessions starting in a window.
    __table_args__ = (Index("ix_index_sessions_starts", "connection_id", "starts_at"),)

    connection_id: Mapped[int] = mapped_column(
        ForeignKey("provider_connections.id", ondelete="CASCADE"), primary_key=True
    )
    provider_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(400), nullable=True)
    starts_at: Mapped[str | None] = mapped_column(String(24), nullable=True)
    ends_at: Mapped[str | None] = mapped_column(String(24), nullable=True)
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[str | None] = mapped_column(String(24), nullable=True)


class IndexedRegistration(Base):
    """`precedence` orders what a crawler learns from several places about one
    registration: a write never overrides one of higher precedence (a cancelled booking
    outranks a participants list)."""

    __tablename__ = "index_registrations"
    __table_args__ = (
        Index("ix_index_registrations_participant", "connection_id", "participant_id"),
    )

    connection_id: Mapped[int] = mapped_column(
        ForeignKey("provider_connections.id", ondelete="CASCADE"), primary_key=True
    )
    provider_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(200))
    session_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    confirmed_at: Mapped[str | None] = mapped_column(String(24), nullable=True)
    created_at: Mapped[str | None] = mapped_column(String(24), nullable=True)
    precedence: Mapped[int] = mapped_column(Integer)
    seen_pass: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SyncState(Base):
    """Where an indexed connection's crawl stands, what it found, and who holds the lease
    to crawl it (one crawler per connection across every process)."""

    __tablename__ = "sync_states"

    connection_id: Mapped[int] = mapped_column(
        ForeignKey("provider_connections.id", ondelete="CASCADE"), primary_key=True
    )
    checkpoint: Mapped[Any] = mapped_column(JSON, nullable=True)
    pace: Mapped[Any] = mapped_column(JSON, nullable=True)  # the provider's last word on limits
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    registrations: Mapped[int] = mapped_column(Integer, default=0)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Full passes (a whole crawl, or a live connection's reconciliation), which find what
    # was removed: the number of the one under way or last started, of the last one that
    # ran to its end (0: none yet, the connection's first pass), and when that one ended.
    full_pass: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    full_pass_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_full_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ChangeEvent(Base):
    """One change of a participant, registration or purchase at a provider: the change
    log (`server/changes/`). `seq` grows by one within a business, with no gap and no tie,
    so a reader resumes after any event."""

    __tablename__ = "change_events"
    __table_args__ = (UniqueConstraint("business_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    topic: Mapped[str] = mapped_column(String(32))
    record_gid: Mapped[str] = mapped_column(String(512))
    participant_gid: Mapped[str] = mapped_column(String(512))
    connection: Mapped[str] = mapped_column(String(32))  # its public id, kept if removed
    provider: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    fields: Mapped[list[str]] = mapped_column(JSON)


class RecordFingerprint(Base):
    """What a live connection's record looked like when last seen, without what it says:
    its GID, its participant's GID, and keyed hashes of its mapped values (one per field,
    so an update names the fields that changed). The store keeps no copy of a live
    provider's personal data."""

    __tablename__ = "record_fingerprints"

    connection_id: Mapped[int] = mapped_column(
        ForeignKey("provider_connections.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    record_gid: Mapped[str] = mapped_column(String(512), primary_key=True)
    participant_gid: Mapped[str] = mapped_column(String(512))
    fields: Mapped[dict[str, str]] = mapped_column(JSON)
    seen_pass: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


def new_subscription_public_id() -> str:
    return "wh_" + secrets.token_hex(8)


def new_delivery_public_id() -> str:
    """A delivery's `webhook-id`: the same on every retry, so a receiver deduplicates."""
    return "msg_" + secrets.token_hex(12)


class WebhookSubscription(Base):
    """An integrator's endpoint, the operator's to manage (`server/webhooks/`): the topics
    it takes, the API key whose scopes bound every payload, and its signing secrets,
    encrypted like provider credentials (the previous one signs beside the new one until
    `previous_secret_until`). A disabled one says why; what it missed stays in the outbox
    and is delivered, in order, once it is enabled again."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=new_subscription_public_id
    )
    business_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), index=True
    )
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    topics: Mapped[list[str]] = mapped_column(JSON)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ordered: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When the current run of failed attempts began (None: the last attempt succeeded).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one event (or a `ping`) for one subscription, written in the
    transaction that logged the event, with the body to send (the record's fields its
    key may read, as they were then). `pending` until delivered, or `failed` once its
    retries are spent; a worker claims it until `claimed_until`."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "subscription_id", "state", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_delivery_public_id)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(BigInteger)  # the event's (0: a ping)
    topic: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookAttempt(Base):
    """One try of a delivery: when, what came back (a status, or an error kind), how
    long it took, and the first bytes of the answer."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(32), nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    head: Mapped[str] = mapped_column(Text, default="")
