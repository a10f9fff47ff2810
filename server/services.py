"""Everything a running server shares between requests, built once from the settings."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from schema.api import Query, build_internal_schema
from schema.cursors import CursorCodec
from schema.engine.document_cache import DocumentCache
from schema.engine.execution import Executor
from schema.engine.operation_limits import OperationLimits
from schema.policy import Policy, SchemaSlices, load_policy
from schema.policy.model import validate_policy
from schema.policy.reference import Reference, build_reference, render_html
from server.auth import KeyCache, KeyUseRecorder
from server.changes.log import ChangeLog
from server.directory import StoreDirectory
from server.limits.in_process import MemoryRateLimiter
from server.limits.in_redis import RedisRateLimiter
from server.limits.outbound import budget_storage
from server.limits.passes import PassBounds
from server.limits.rate import RateLimiter
from server.providers.breaker import breaker_factory
from server.providers.http import Transport, UpstreamLimits
from server.providers.http1 import Http1Transport
from server.providers.registry import PROVIDERS
from server.providers.spec import ProviderSpec
from server.runtimes import Runtimes
from server.settings import Settings
from server.store.availability import Outage, bounded_waits
from server.store.crypto import CredentialCipher
from server.store.database import create_engine, session_factory
from server.store.index import IndexStore
from server.store.repository import Store
from server.store_watch import CachedState, StoreWatcher
from server.sync import SyncWorker
from server.webhooks.delivery import Deliverer, Schedule, Sender
from server.webhooks.outbox import Outbox
from server.webhooks.sending import Sender as HttpSender
from server.webhooks.subscriptions import Subscriptions, trim


@dataclass(frozen=True)
class Graph:
    """What follows from the policy file alone: the policy, the whole graph, the slices
    keys see and the reference. Read-only once built, so one is shared by every `Services`
    built over the same policy (the tests build it once per session)."""

    policy: Policy
    internal: strawberry.Schema
    slices: SchemaSlices
    reference_html: str


def load_graph(policy_path: Path) -> Graph:
    """Load the policy and refuse to start on any defect (it names the file and line)."""
    policy = load_policy(policy_path)
    internal = build_internal_schema()
    validate_policy(policy, internal._schema)
    slices = SchemaSlices(policy, Query)
    slices.build_all()
    return Graph(policy, internal, slices, render_html(policy_reference(policy, slices)))


def build_executor(settings: Settings, graph: Graph) -> Executor:
    limits = OperationLimits(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_fields=settings.max_fields,
        max_field_repeats=settings.max_field_repeats,
        max_cost=settings.max_cost,
    )
    cache = DocumentCache(settings.document_cache_entries, settings.document_cache_bytes)
    return Executor(
        graph.internal,
        graph.slices,
        graph.policy,
        limits,
        settings.execution_timeout_seconds,
        cache,
    )


def build_rate_limiter(settings: Settings) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url)
    return MemoryRateLimiter()


def policy_reference(policy: Policy, slices: SchemaSlices) -> Reference:
    """The reference a key with every scope reads: built from the same slice it queries."""
    public = slices.for_scopes(policy.scopes)
    return build_reference(policy, public._schema, public.as_str())


@dataclass
class Webhooks:
    """Webhook subscriptions, and the worker that delivers their outbox."""

    subscriptions: Subscriptions
    deliverer: Deliverer
    sessions: async_sessionmaker[AsyncSession]

    async def trim(self, before: datetime) -> int:
        """Forget deliveries written before `before`, with their attempts."""
        return await trim(self.sessions, before)

    @classmethod
    def build(
        cls,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        cipher: CredentialCipher,
        policy: Policy,
    ) -> Webhooks:
        def sender() -> Sender:
            return HttpSender(
                allow_private=settings.webhook_allow_private,
                timeout=settings.webhook_timeout_seconds,
            )

        return cls(
            Subscriptions(
                sessions,
                cipher,
                policy,
                secret_grace=timedelta(seconds=settings.webhook_secret_grace_seconds),
            ),
            Deliverer(
                sessions,
                cipher,
                sender,
                Schedule(
                    settings.webhook_retry_schedule,
                    timedelta(days=settings.webhook_disable_after_days),
                ),
                timeout=settings.webhook_timeout_seconds,
                endpoint_concurrency=settings.webhook_endpoint_concurrency,
            ),
            sessions,
        )


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    outage: Outage
    store: Store
    upstream: Transport
    index: IndexStore
    changes: ChangeLog
    providers: tuple[ProviderSpec, ...]
    runtimes: Runtimes
    policy: Policy
    executor: Executor
    directory: StoreDirectory
    cursors: CursorCodec
    key_use: KeyUseRecorder
    keys: KeyCache
    cached: CachedState
    watcher: StoreWatcher
    sync: SyncWorker
    reference_html: str
    rate_limiter: RateLimiter
    webhooks: Webhooks

    @classmethod
    def build(
        cls,
        settings: Settings,
        providers: Sequence[ProviderSpec] = PROVIDERS,
        graph: Graph | None = None,
    ) -> Services:
        """`providers` replaces the registry (tests add a provider of their own); `graph`
        is the one already loaded from `settings.policy_path`, if any. Provider calls
        always go over HTTP/1.1 (`Http1Transport`), in tests as in production, through the
        proxy the environment names: a proxy variable it cannot use is a SettingsError."""
        graph = graph or load_graph(settings.policy_path)
        policy = graph.policy
        executor = build_executor(settings, graph)
        engine = create_engine(settings.database_url, **bounded_waits(settings.database_url))
        outage = Outage()
        sessions = session_factory(engine, outage)
        secret = str(settings.secret_key)
        specs = tuple(providers)
        cipher = CredentialCipher(secret)
        store = Store(sessions, cipher, providers=[s.name for s in specs])
        transport: Transport = Http1Transport()
        index = IndexStore(sessions, outbox=Outbox(policy))
        changes = ChangeLog(sessions)
        runtimes = Runtimes(
            store,
            index,
            specs,
            transport,
            UpstreamLimits.from_settings(settings),
            budget_storage(settings.redis_url),
            breaker_factory(settings.breaker_failures, settings.breaker_cooldown_seconds),
            max_businesses=settings.business_cache_entries,
        )
        keys = KeyCache(settings.key_cache_entries)
        cached = CachedState(keys, runtimes)
        webhooks = Webhooks.build(settings, sessions, cipher, policy)
        store.on_change(cached.apply)  # at once for what this process changes
        return cls(
            settings=settings,
            engine=engine,
            outage=outage,
            store=store,
            upstream=transport,
            index=index,
            changes=changes,
            providers=specs,
            runtimes=runtimes,
            policy=policy,
            executor=executor,
            directory=StoreDirectory(
                store,
                runtimes,
                specs,
                policy=policy,
                changes=changes,
                webhooks=webhooks.subscriptions,
                allow_private_urls=settings.webhook_allow_private,
            ),
            cursors=CursorCodec(hashlib.sha256(b"cursors:" + secret.encode()).digest()),
            key_use=KeyUseRecorder(store, settings.last_used_flush_seconds),
            keys=keys,
            cached=cached,
            watcher=StoreWatcher(store, settings.store_poll_seconds, cached),
            sync=SyncWorker(
                store,
                index,
                runtimes,
                specs,
                secret,
                lease_seconds=settings.sync_lease_seconds,
                bounds=PassBounds(
                    requests=settings.sync_pass_requests,
                    seconds=settings.sync_pass_seconds,
                    wait_limit=settings.provider_wait_limit_seconds,
                ),
                concurrency=settings.sync_concurrency,
                watch_interval=settings.watch_interval_seconds,
                full_pass_every=settings.full_pass_interval_seconds,
            ),
            reference_html=graph.reference_html,
            rate_limiter=build_rate_limiter(settings),
            webhooks=webhooks,
        )

    def spec(self, provider: str) -> ProviderSpec | None:
        return next((spec for spec in self.providers if spec.name == provider), None)

    async def close(self) -> None:
        await self.webhooks.deliverer.close()
        await self.rate_limiter.close()
        await self.key_use.flush()
        await self.upstream.close()
        await self.engine.dispose()
