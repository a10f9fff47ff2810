"""The store and the providers as the graph sees them (`schema.source.Directory`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from schema.errors import BadUserInput, NotFound
from schema.policy import Policy
from schema.source import (
    ApiKeyRecord,
    BusinessRecord,
    ChangeEventRecord,
    ConnectionRecord,
    WebhookSubscriptionRecord,
)
from server.changes.log import ChangeLog
from server.federation import Federation
from server.providers.spec import ProviderSpec
from server.runtimes import Runtimes
from server.store.repository import Store, StoreError
from server.webhooks import BY_OPERATOR
from server.webhooks.operating import url_problem
from server.webhooks.subscriptions import (
    Subscription,
    SubscriptionError,
    Subscriptions,
)


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
        webhooks: Subscriptions,
        allow_private_urls: bool = False,
    ) -> None:
        self._store = store
        self._webhooks = webhooks
        self._allow_private = allow_private_urls
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

    async def webhook_subscriptions(
        self, business: BusinessRecord
    ) -> list[WebhookSubscriptionRecord]:
        current = await self._current(business)
        return [_webhook(s) for s in await self._webhooks.listed(current.handle)]

    async def _checked_url(self, url: str) -> None:
        problem = await url_problem(url, allow_private=self._allow_private)
        if problem:
            raise BadUserInput(f"{problem[:1].upper()}{problem[1:]}.", argumentName="url")

    async def create_webhook_subscription(
        self,
        business: BusinessRecord,
        *,
        url: str,
        topics: Sequence[str],
        api_key_id: str,
        ordered: bool,
    ) -> tuple[WebhookSubscriptionRecord, str]:
        current = await self._current(business)
        await self._checked_url(url)
        with _as_input():
            created, secret = await self._webhooks.create(
                current.handle, url, topics, api_key_id, ordered=ordered
            )
        return _webhook(created), secret

    async def update_webhook_subscription(
        self,
        public_id: str,
        *,
        url: str | None,
        topics: Sequence[str] | None,
        ordered: bool | None,
    ) -> WebhookSubscriptionRecord:
        if url is not None:
            await self._checked_url(url)
        with _as_input():
            updated = await self._webhooks.update(
                public_id, url=url, topics=topics, ordered=ordered
            )
        return _webhook(updated)

    async def delete_webhook_subscription(self, public_id: str) -> WebhookSubscriptionRecord:
        with _as_input():
            found = await self._webhooks.get(public_id)
            await self._webhooks.remove(public_id)
        return _webhook(found)

    async def enable_webhook_subscription(self, public_id: str) -> WebhookSubscriptionRecord:
        with _as_input():
            return _webhook(await self._webhooks.enable(public_id))

    async def disable_webhook_subscription(
        self, public_id: str, reason: str | None
    ) -> WebhookSubscriptionRecord:
        with _as_input():
            return _webhook(await self._webhooks.disable(public_id, reason or BY_OPERATOR))

    async def rotate_webhook_secret(self, public_id: str) -> tuple[WebhookSubscriptionRecord, str]:
        with _as_input():
            rotated, secret = await self._webhooks.rotate_secret(public_id)
        return _webhook(rotated), secret


@contextmanager
def _as_input() -> Iterator[None]:
    """A subscription the operator asked for that cannot be: BAD_USER_INPUT, its line."""
    try:
        yield
    except SubscriptionError as error:
        raise BadUserInput(str(error)) from None


def _webhook(s: Subscription) -> WebhookSubscriptionRecord:
    return WebhookSubscriptionRecord(
        public_id=s.public_id,
        business=s.business,
        api_key_id=s.key_id,
        url=s.url,
        topics=s.topics,
        ordered=s.ordered,
        enabled=s.enabled,
        disabled_reason=s.disabled_reason,
        previous_secret_until=s.rotating_until,
        pending=s.pending,
        failed=s.failed,
        created_at=s.created_at,
    )
