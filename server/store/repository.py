"""Data access for the server and the admin CLI.

Every method opens its own short session and returns frozen records, so callers never
hold ORM objects. Every change that running servers cache is also written to the change
log (`invalidation.py`) in the same transaction, naming what changed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, event, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schema.source import ApiKeyRecord, BusinessRecord, ConnectionRecord

from . import invalidation
from .crypto import CredentialCipher, CredentialDecryptError
from .invalidation import Invalidation
from .keys import DUMMY_HASH, hash_secret, mint_key, parse_key, secret_matches
from .models import (
    CONNECTION_MODES,
    ApiKey,
    Business,
    ProviderConnection,
    SyncState,
    UTCDateTime,
    WebhookSubscription,
)
from .rows import (
    BusinessNotFound,
    ConnectionConfig,
    ConnectionNotFound,
    HandleTaken,
    InvalidConnection,
    InvalidHandle,
    KeyNotActive,
    KeyNotFound,
    StoreError,
    business_record,
    connection_record,
    key_record,
)

__all__ = [
    "BusinessNotFound",
    "KeyNotActive",
    "ConnectionConfig",
    "ConnectionNotFound",
    "HandleTaken",
    "InvalidConnection",
    "InvalidHandle",
    "KeyNotFound",
    "Store",
    "StoreError",
]

HANDLE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_INSERT_ATTEMPTS = 5  # retries when a random public id / key id happens to collide


def _as_utc(value: datetime, name: str) -> datetime:
    """Reject naive datetimes (ambiguous) and normalise aware ones to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


class Store:
    """Repository over the store's tables. `providers` are the provider names a
    connection may have (the registry's); None accepts any, for tests of the store."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: CredentialCipher,
        providers: Collection[str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._providers = providers
        self._listeners: list[Callable[[Sequence[Invalidation]], None]] = []

    def on_change(self, listener: Callable[[Sequence[Invalidation]], None]) -> None:
        """Call `listener` with what changed after every committed change this process
        makes, so that what it caches of those things goes at once (other processes read
        the invalidation log within their poll time)."""
        self._listeners.append(listener)

    async def _changed(self, session: AsyncSession, *made: Invalidation) -> None:
        """Log `made` in the session's transaction; tell the listeners once it commits."""
        await invalidation.record(session, made)
        if self._listeners:
            event.listen(
                session.sync_session, "after_commit", lambda _: self._notify(made), once=True
            )

    def _notify(self, made: Sequence[Invalidation]) -> None:
        for listener in self._listeners:
            listener(made)

    async def revision(self) -> int:
        """The newest revision of the invalidation log; cheap, for a watcher's first look."""
        async with self._sessions() as session:
            return await invalidation.current_revision(session)

    async def invalidations_since(self, seen: int) -> tuple[int, list[Invalidation] | None]:
        """(the newest revision, what changed after revision `seen`); None instead of the
        changes when they can no longer all be told (see `invalidation.since`)."""
        async with self._sessions() as session:
            return await invalidation.since(session, seen)

    # Businesses

    async def create_business(self, handle: str, name: str) -> BusinessRecord:
        if not HANDLE_RE.fullmatch(handle):
            raise InvalidHandle(
                f"invalid handle {handle!r}: use 1-40 lowercase letters, digits or inner hyphens"
            )
        for _ in range(_INSERT_ATTEMPTS):
            if await self.get_business(handle) is not None:
                raise HandleTaken(f"handle {handle!r} is already taken")
            try:
                async with self._sessions() as session, session.begin():
                    business = Business(handle=handle, name=name)
                    session.add(business)
                    await session.flush()
                    return business_record(business)
            except IntegrityError:
                continue  # a concurrent insert of the handle, or a public id collision
        if await self.get_business(handle) is not None:
            raise HandleTaken(f"handle {handle!r} is already taken")
        raise StoreError("could not allocate a unique business id")

    async def get_business(self, handle: str) -> BusinessRecord | None:
        async with self._sessions() as session:
            business = await session.scalar(select(Business).where(Business.handle == handle))
            return business_record(business) if business is not None else None

    async def get_business_by_id(self, business_id: int) -> BusinessRecord | None:
        async with self._sessions() as session:
            business = await session.get(Business, business_id)
            return business_record(business) if business is not None else None

    async def get_business_by_public_id(self, public_id: str) -> BusinessRecord | None:
        async with self._sessions() as session:
            business = await session.scalar(select(Business).where(Business.public_id == public_id))
            return business_record(business) if business is not None else None

    async def get_business_of_connection(self, public_id: str) -> BusinessRecord | None:
        query = (
            select(Business)
            .join(ProviderConnection, ProviderConnection.business_id == Business.id)
            .where(ProviderConnection.public_id == public_id)
        )
        async with self._sessions() as session:
            business = await session.scalar(query)
            return business_record(business) if business is not None else None

    async def get_connection(self, public_id: str) -> ConnectionRecord | None:
        query = select(ProviderConnection).where(ProviderConnection.public_id == public_id)
        async with self._sessions() as session:
            connection = await session.scalar(query)
            return connection_record(connection) if connection is not None else None

    async def list_businesses(self) -> list[BusinessRecord]:
        async with self._sessions() as session:
            result = await session.scalars(select(Business).order_by(Business.id))
            return [business_record(b) for b in result]

    async def set_rate_limit(self, business_id: int, per_minute: int | None) -> BusinessRecord:
        """Override the business's requests per minute (all its keys together); None resets
        it to the server's default."""
        if per_minute is not None and per_minute < 1:
            raise ValueError("a rate limit must be at least 1 request per minute")
        async with self._sessions() as session, session.begin():
            business = await session.get(Business, business_id)
            if business is None:
                raise BusinessNotFound(f"no business with id {business_id}")
            business.rate_limit_per_minute = per_minute
            await self._changed(session, Invalidation.business(business_id))
            return business_record(business)

    async def _require_business(self, business_id: int) -> None:
        if await self.get_business_by_id(business_id) is None:
            raise BusinessNotFound(f"no business with id {business_id}")

    # API keys

    async def create_api_key(
        self,
        business_id: int,
        *,
        name: str,
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> tuple[ApiKeyRecord, str]:
        """Create a key; the returned full key string is the only copy of the secret."""
        if isinstance(scopes, str):
            raise TypeError("scopes must be a sequence of strings, not a string")
        if expires_at is not None:
            expires_at = _as_utc(expires_at, "expires_at")
        await self._require_business(business_id)
        for _ in range(_INSERT_ATTEMPTS):
            minted = mint_key()
            try:
                async with self._sessions() as session, session.begin():
                    key = ApiKey(
                        key_id=minted.key_id,
                        business_id=business_id,
                        name=name,
                        secret_hash=hash_secret(minted.secret),
                        scopes=list(scopes),
                        expires_at=expires_at,
                    )
                    session.add(key)  # nothing to log: no server has a key before it exists
                    await session.flush()
                    return key_record(key), minted.full
            except IntegrityError:
                await self._require_business(business_id)  # deleted meanwhile?
                continue  # key id collision: mint another
        raise StoreError("could not allocate a unique key id")

    async def roll_api_key(
        self, key_id: str, *, now: datetime, overlap: timedelta
    ) -> tuple[ApiKeyRecord, str, ApiKeyRecord]:
        """A new key with the old one's business, name, scopes and expiry, taking over its
        webhook subscriptions; the old key stops after `overlap` (at once when zero). The
        new key, its full string (the only copy of its secret) and the old key, after."""
        now = _as_utc(now, "now")
        for _ in range(_INSERT_ATTEMPTS):
            minted = mint_key()
            try:
                async with self._sessions() as session, session.begin():
                    old = await session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
                    if old is None:
                        raise KeyNotFound(f"no API key with id {key_id!r}")
                    if old.revoked_at is not None or (
                        old.expires_at is not None and old.expires_at <= now
                    ):
                        raise KeyNotActive(f"key {key_id} is revoked or expired: mint a new one")
                    new = ApiKey(
                        key_id=minted.key_id,
                        business_id=old.business_id,
                        name=old.name,
                        secret_hash=hash_secret(minted.secret),
                        scopes=list(old.scopes),
                        expires_at=old.expires_at,
                    )
                    session.add(new)
                    await session.flush()
                    ends = now + overlap
                    if old.expires_at is None or ends < old.expires_at:
                        old.expires_at = ends
                    await session.execute(
                        update(WebhookSubscription)
                        .where(WebhookSubscription.api_key_id == old.id)
                        .values(api_key_id=new.id)
                    )
                    await self._changed(session, Invalidation.key(key_id))
                    await session.flush()
                    return key_record(new), minted.full, key_record(old)
            except IntegrityError:
                continue  # key id collision: mint another
        raise StoreError("could not allocate a unique key id")

    async def authenticate(
        self, full_key: str, *, now: datetime
    ) -> tuple[BusinessRecord, ApiKeyRecord] | None:
        """Resolve a presented key to its business, or ``None`` if it must be refused."""
        now = _as_utc(now, "now")
        parsed = parse_key(full_key)
        if parsed is None:
            return None
        key_id, secret = parsed
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ApiKey, Business)
                    .join(Business, Business.id == ApiKey.business_id)
                    .where(ApiKey.key_id == key_id)
                )
            ).first()
        if row is None:
            # Same work as a real check, so timing does not reveal which key ids exist.
            secret_matches(secret, DUMMY_HASH)
            return None
        key, business = row
        if not secret_matches(secret, key.secret_hash):
            return None
        if key.revoked_at is not None:
            return None
        if key.expires_at is not None and key.expires_at <= now:
            return None
        return business_record(business), key_record(key)

    async def list_api_keys(self, business_id: int | None = None) -> list[ApiKeyRecord]:
        query = select(ApiKey).order_by(ApiKey.business_id, ApiKey.id)
        if business_id is not None:
            query = query.where(ApiKey.business_id == business_id)
        async with self._sessions() as session:
            return [key_record(k) for k in await session.scalars(query)]

    async def revoke_api_key(self, key_id: str, *, now: datetime) -> ApiKeyRecord:
        """Revoke a key; revoking again keeps the original revocation time."""
        now = _as_utc(now, "now")
        async with self._sessions() as session, session.begin():
            key = await session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
            if key is None:
                raise KeyNotFound(f"no API key with id {key_id!r}")
            if key.revoked_at is None:
                key.revoked_at = now
                await self._changed(session, Invalidation.key(key_id))
                # Its webhook subscriptions stop with it: they deliver what it may read.
                await session.execute(
                    update(WebhookSubscription)
                    .where(WebhookSubscription.api_key_id == key.id)
                    .where(WebhookSubscription.enabled.is_(True))
                    .values(
                        enabled=False,
                        disabled_at=now,
                        disabled_reason=f"its API key {key_id} was revoked",
                    )
                )
                await session.flush()
            return key_record(key)

    async def record_key_use(self, last_used: Mapping[str, datetime]) -> None:
        """Write many ``last_used_at`` values in one transaction.

        The server batches key use in memory and flushes periodically instead of writing
        on every request. Values only move forward, so a late or reordered flush cannot
        make a key look less recently used.
        """
        if not last_used:
            return
        normalised = {kid: _as_utc(value, "last_used_at") for kid, value in last_used.items()}
        ts = bindparam("ts", type_=UTCDateTime())
        table = ApiKey.__table__
        statement = (
            update(table)  # type: ignore[arg-type]
            .where(table.c.key_id == bindparam("kid"))
            .where(or_(table.c.last_used_at.is_(None), table.c.last_used_at < ts))
            .values(last_used_at=ts)
        )
        # Sorted so concurrent flushes lock rows in the same order and cannot deadlock.
        params = [{"kid": kid, "ts": ts_value} for kid, ts_value in sorted(normalised.items())]
        async with self._sessions() as session, session.begin():
            await session.execute(statement, params)

    # Provider connections

    async def add_connection(
        self,
        business_id: int,
        *,
        provider: str,
        base_url: str,
        account_id: str,
        credential: str,
        mode: str,
    ) -> ConnectionRecord:
        """Append a connection after the business's existing ones."""
        if self._providers is not None and provider not in self._providers:
            known = ", ".join(sorted(self._providers))
            raise InvalidConnection(f"unknown provider {provider!r}; known: {known}")
        if mode not in CONNECTION_MODES:
            raise InvalidConnection(f"unknown mode {mode!r}; expected one of {CONNECTION_MODES}")
        await self._require_business(business_id)
        encrypted = self._cipher.encrypt(credential)
        for _ in range(_INSERT_ATTEMPTS):
            try:
                async with self._sessions() as session, session.begin():
                    last = await session.scalar(
                        select(func.max(ProviderConnection.position)).where(
                            ProviderConnection.business_id == business_id
                        )
                    )
                    connection = ProviderConnection(
                        business_id=business_id,
                        provider=provider,
                        base_url=base_url,
                        account_id=account_id,
                        credential_encrypted=encrypted,
                        mode=mode,
                        position=(last + 1) if last is not None else 0,
                    )
                    session.add(connection)
                    await self._changed(session, Invalidation.connections(business_id))
                    await session.flush()
                    return connection_record(connection)
            except IntegrityError:
                await self._require_business(business_id)
                continue  # a concurrent add took the position, or a public id collision
        raise StoreError("could not add the connection")

    async def list_connections(self, business_id: int | None = None) -> list[ConnectionRecord]:
        query = select(ProviderConnection).order_by(
            ProviderConnection.business_id, ProviderConnection.position
        )
        if business_id is not None:
            query = query.where(ProviderConnection.business_id == business_id)
        async with self._sessions() as session:
            return [connection_record(c) for c in await session.scalars(query)]

    async def connection_configs(
        self, business_id: int | None = None, *, business_public_id: str | None = None
    ) -> list[ConnectionConfig]:
        """A business's connections in order, with their credentials decrypted. A credential
        that cannot be decrypted is reported on its connection, not raised for all.

        By the business's id or, in the same single query, by its public id."""
        query = (
            select(ProviderConnection, SyncState.last_completed_at)
            .outerjoin(SyncState, SyncState.connection_id == ProviderConnection.id)
            .order_by(ProviderConnection.position)
        )
        if business_public_id is not None:
            query = query.join(Business, Business.id == ProviderConnection.business_id).where(
                Business.public_id == business_public_id
            )
        else:
            query = query.where(ProviderConnection.business_id == business_id)
        async with self._sessions() as session:
            rows = list(await session.execute(query))
        return [self._config(row, synced_at) for row, synced_at in rows]

    async def all_connection_configs(self) -> list[ConnectionConfig]:
        """Every business's connections, for the sync worker."""
        query = (
            select(ProviderConnection, SyncState.last_completed_at)
            .outerjoin(SyncState, SyncState.connection_id == ProviderConnection.id)
            .order_by(ProviderConnection.business_id, ProviderConnection.position)
        )
        async with self._sessions() as session:
            rows = list(await session.execute(query))
        return [self._config(row, synced_at) for row, synced_at in rows]

    def _config(
        self, row: ProviderConnection, synced_at: datetime | None = None
    ) -> ConnectionConfig:
        record = connection_record(row)
        fingerprint = hashlib.sha256(
            "\0".join(
                [
                    record.provider,
                    record.mode,
                    record.base_url,
                    record.account_id,
                    row.credential_encrypted,
                ]
            ).encode()
        ).hexdigest()
        try:
            credential = self._cipher.decrypt(row.credential_encrypted)
        except CredentialDecryptError:
            return ConnectionConfig(
                record,
                None,
                "its credential cannot be decrypted with this BUSINESS_API_SECRET_KEY",
                fingerprint,
                synced_at,
            )
        return ConnectionConfig(record, credential, None, fingerprint, synced_at)

    async def update_connection(
        self,
        public_id: str,
        *,
        base_url: str | None = None,
        account_id: str | None = None,
        credential: str | None = None,
        mode: str | None = None,
    ) -> ConnectionRecord:
        """Change a connection in place, keeping its id (and so every GID made from it)."""
        if mode is not None and mode not in CONNECTION_MODES:
            raise InvalidConnection(f"unknown mode {mode!r}; expected one of {CONNECTION_MODES}")
        values: dict[str, str] = {}
        if mode is not None:
            values["mode"] = mode
        if base_url is not None:
            values["base_url"] = base_url
        if account_id is not None:
            values["account_id"] = account_id
        if credential is not None:
            values["credential_encrypted"] = self._cipher.encrypt(credential)
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(ProviderConnection).where(ProviderConnection.public_id == public_id)
            )
            if row is None:
                raise ConnectionNotFound(f"no connection with id {public_id!r}")
            for name, value in values.items():
                setattr(row, name, value)
            if values:
                await self._changed(session, Invalidation.connections(row.business_id))
            await session.flush()
            return connection_record(row)

    async def remove_connection(self, public_id: str) -> None:
        async with self._sessions() as session, session.begin():
            business_id = await session.scalar(
                delete(ProviderConnection)
                .where(ProviderConnection.public_id == public_id)
                .returning(ProviderConnection.business_id)
            )
            if business_id is None:
                raise ConnectionNotFound(f"no connection with id {public_id!r}")
            await self._changed(session, Invalidation.connections(business_id))
