"""The store and the providers as the graph sees them (`schema.source.Directory`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from schema.errors import BadUserInput, NotFound
from schema.policy import Policy
from schema.source import ApiKeyRecord, BusinessRecord, ChangeEventRecord, ConnectionRecord
from server.changes.log import ChangeLog
from server.federation import Federation
from server.providers.spec import ProviderSpec
from server.runtimes import Runtimes
from server.store.repository import Store, StoreError


def check_scopes(scopes: Sequence[str], policy: Policy) -> list[str]:
    """The scopes a new key is minted with, in the policy's order: those asked for, each
    declared and with its prerequisites, plus the implicit ones every key has. The CLI
    and the operator's endpoint both mint through here."""
    unknown = [s for s in scopes if s not in policy.scopes]
    if unknown:
        raise BadUserInput(
            f"Unknown scopes: {', '.join(unknown)}. Declared: {', '.join(policy.scopes)}."
        )
    held = {*policy.implicit, *scopes}
    for scope in scopes:
        missing = [s for s in policy.prerequisites(scope) if s not in held]
        if missing:
            needed = " and ".join(f"`{s}`" for s in missing)
            them = "it" if len(missing) == 1 else "them"
            raise BadUserInput(
                f"`{scope}` needs {needed}: add {them}, or the key can read none of "
                f"the fields `{scope}` grants."
            )
    return [s for s in policy.scopes if s in held]


class StoreDirectory:
    def __init__(
        self,
        store: Store,
        runtimes: Runtimes,
        specs: Sequence[ProviderSpec],
        *,
        policy: Policy,
        changes: ChangeLog,
    ) -> None:
        self._store = store
        self._changes = changes
        self._runtimes = runtimes
        self._specs = {spec.name: spec for spec in specs}
        self._policy = policy

    def source(self, business: BusinessRecord) -> Federation:
        return Federation(lambda: self._runtimes.of(business))

    async def _current(self, business: BusinessRecord) -> BusinessRecord:
        found = await self._store.get_business_by_public_id(business.public_id)
        if found is None:
            raise NotFound("No business has this ID.")
        return found

    async def businesses(self) -> list[BusinessRecord]:
        return await self._store.list_businesses()

    async def business(self, public_id: str) -> BusinessRecord | None:
        return await self._store.get_business_by_public_id(public_id)

    async def business_of_connection(self, public_id: str) -> BusinessRecord | None:
        return await self._store.get_business_of_connection(public_id)

    async def api_keys(self, business: BusinessRecord) -> list[ApiKeyRecord]:
        return await self._store.list_api_keys((await self._current(business)).id)

    async def connections(self, business: BusinessRecord) -> list[ConnectionRecord]:
        return await self._store.list_connections((await self._current(business)).id)

    async def create_api_key(
        self,
        business: BusinessRecord,
        *,
        name: str,
        scopes: Sequence[str],
        expires_at: datetime | None,
    ) -> tuple[ApiKeyRecord, str]:
        current = await self._current(business)
        checked = check_scopes(scopes, self._policy)
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise BadUserInput("`expiresAt` must be in the future.")
        return await self._store.create_api_key(
            current.id, name=name, scopes=checked, expires_at=expires_at
        )

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord:
        try:
            return await self._store.revoke_api_key(key_id, now=datetime.now(UTC))
        except StoreError:
            raise NotFound("No API key has this id.") from None

    async def connect_provider(
        self,
        business: BusinessRecord,
        *,
        provider: str,
        base_url: str,
        account_id: str,
        credential: str,
        mode: str | None = None,
    ) -> ConnectionRecord:
        spec = self._specs.get(provider)
        if spec is None:
            known = ", ".join(sorted(self._specs))
            raise BadUserInput(f"Unknown provider `{provider}`. Known: {known}.")
        problem = spec.check_connection(base_url, account_id) or spec.check_mode(mode or spec.mode)
        if problem:
            raise BadUserInput(
                problem.replace("--base-url", "`baseUrl`").replace("--account-id", "`accountId`")
            )
        current = await self._current(business)
        connection = await self._store.add_connection(
            current.id,
            provider=provider,
            base_url=base_url,
            account_id=account_id,
            credential=credential,
            mode=mode or spec.mode,
        )
        return connection

    async def disconnect_provider(self, public_id: str) -> ConnectionRecord:
        connection = await self._store.get_connection(public_id)
        if connection is None:
            raise NotFound("No connection has this id.")
        await self._store.remove_connection(public_id)
        return connection

    async def changes(
        self,
        business: BusinessRecord,
        *,
        after: int,
        first: int,
        topics: Sequence[str] | None,
    ) -> tuple[list[ChangeEventRecord], bool]:
        return await self._changes.read(business.id, after=after, first=first, topics=topics)
