"""Connection runtimes: what the running server keeps for each provider connection.

A runtime is built once from the store (one query per business, one decryption per
credential) and kept: its adapter over a `ProviderHttp` with the connection's auth
headers, deadline and retry policy, its outbound budget, its circuit breaker and the
adapter's own short-lived caches. A warm request reads no store and decrypts nothing.

At most `BUSINESS_API_BUSINESS_CACHE_ENTRIES` businesses are kept, the least recently
used going first with everything of their connections (runtime, budget, breaker), so a
process's memory is bounded however many businesses it serves. A business is rebuilt on
its next request when the store's invalidation log names it (its connections added, changed
or removed, one of them synced): by this process after a change it made, and by the
store watcher when another process made one. A rebuilt business reuses the runtime of
every connection whose settings did not change, so its breaker and caches survive; a
connection gone from it leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cachetools import LRUCache
from purgatory import AsyncCircuitBreakerFactory

from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantRecord,
    PurchaseRecord,
    RegistrationRecord,
)
from schema.source import BusinessRecord, ConnectionRecord
from server.limits.outbound import OutboundBudget, Storage
from server.providers.base import Listed, ProviderAdapter
from server.providers.breaker import Breaker, breakers_kept, forget_breaker
from server.providers.errors import ProviderError
from server.providers.http import ProviderHttp, Transport, UpstreamLimits
from server.providers.indexed import IndexedAdapter
from server.providers.spec import ProviderSpec
from server.store.index import IndexStore
from server.store.repository import ConnectionConfig, Store

log = logging.getLogger(__name__)

CRAWLER_ATTEMPTS = 6
# Outbound budgets kept per business kept: a budget is a connection's, and the sync worker
# also makes them for connections of businesses no request has asked for lately.
BUDGETS_PER_BUSINESS = 4


class Misconfigured:
    """The adapter of a connection the server cannot use (an unknown provider, a
    credential it cannot decrypt): every call fails as a provider error, so its fields
    are UPSTREAM_UNAVAILABLE and the log says why, instead of it being skipped."""

    def __init__(self, connection: ConnectionRecord, problem: str) -> None:
        self.provider = connection.provider
        self.connection = connection.public_id
        self._problem = problem

    def _fail(self) -> ProviderError:
        return ProviderError(self.provider, f"misconfigured connection: {self._problem}")

    async def list_participants(self, *, position: str | None, limit: int) -> Listed:
        raise self._fail()

    async def participants_by_id(self, ids: Sequence[str]) -> dict[str, ParticipantRecord]:
        raise self._fail()

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None]:
        raise self._fail()

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord]]:
        raise self._fail()

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord]]:
        raise self._fail()

    async def activity_sessions(self, ids: Sequence[str]) -> dict[str, ActivitySessionRecord]:
        raise self._fail()


@dataclass
class ConnectionRuntime:
    connection: ConnectionRecord
    adapter: ProviderAdapter
    breaker: Breaker | None
    fingerprint: str
    synced_at: datetime | None = None  # indexed: when its last sync completed

    @property
    def provider(self) -> str:
        return self.connection.provider

    @property
    def indexed(self) -> bool:
        return self.connection.mode == "indexed"


@dataclass
class _Business:
    runtimes: list[ConnectionRuntime]
    current: bool = True  # False once the store said it changed: rebuilt on next use


class _Kept(LRUCache[int, _Business]):
    """The businesses kept, by id; tells its owner which one it evicts."""

    def __init__(self, maxsize: int, evicted: Callable[[_Business], None]) -> None:
        super().__init__(maxsize)
        self._evicted = evicted

    def popitem(self) -> tuple[int, _Business]:
        business_id, business = super().popitem()
        self._evicted(business)
        return business_id, business


class Runtimes:
    def __init__(
        self,
        store: Store,
        index: IndexStore,
        specs: Sequence[ProviderSpec],
        transport: Transport,
        limits: UpstreamLimits,
        budgets: Storage,
        breakers: AsyncCircuitBreakerFactory,
        *,
        max_businesses: int,
    ) -> None:
        self._store = store
        self._index = index
        self._specs = {spec.name: spec for spec in specs}
        self._transport = transport
        self._limits = limits
        self._budgets = budgets
        self._breakers = breakers
        self._businesses = _Kept(max_businesses, self._evicted)
        self._owner: dict[int, int] = {}  # connection id -> business id, of those kept
        self._loading: dict[int, asyncio.Task[list[ConnectionRuntime]]] = {}
        self._budget_of: LRUCache[str, OutboundBudget] = LRUCache(
            max_businesses * BUDGETS_PER_BUSINESS
        )
        # Moves with every change applied: a business loaded across one is not current.
        self._generation = 0

    async def of(self, business: BusinessRecord) -> list[ConnectionRuntime]:
        """The business's runtimes in connection order (built on first use)."""
        kept = self._businesses.get(business.id)
        if kept is not None and kept.current:
            return kept.runtimes
        # Concurrent first requests share one load.
        task = self._loading.get(business.id)
        if task is None:
            task = asyncio.ensure_future(self._load(business.id))
            self._loading[business.id] = task
            task.add_done_callback(lambda _: self._loading.pop(business.id, None))
        return await asyncio.shield(task)

    def sizes(self) -> dict[str, int]:
        """How many of each thing kept per tenant this process holds (for tests and
        operators): businesses, connections, outbound budgets, circuit breakers."""
        return {
            "businesses": len(self._businesses),
            "connections": len(self._owner),
            "budgets": len(self._budget_of),
            "breakers": breakers_kept(self._breakers),
        }

    def business_changed(self, business_id: int) -> None:
        """Its connections changed: rebuild it on its next request."""
        self._generation += 1
        kept = self._businesses.get(business_id)
        if kept is not None:
            kept.current = False

    def connection_synced(self, connection_id: int) -> None:
        """Its sync caught up: its business is rebuilt on its next request, with the
        connection's new freshness (and every runtime reused)."""
        business_id = self._owner.get(connection_id)
        if business_id is not None:
            self.business_changed(business_id)

    def invalidate(self) -> None:
        """Anything may have changed: rebuild each business on its next request."""
        self._generation += 1
        for business_id in list(self._businesses):
            self._businesses[business_id].current = False

    async def _load(self, business_id: int) -> list[ConnectionRuntime]:
        generation = self._generation
        configs = await self._store.connection_configs(business_id)
        kept = self._businesses.get(business_id)
        before = {r.connection.public_id: r for r in kept.runtimes} if kept else {}
        runtimes = [
            self._runtime(config, before.pop(config.connection.public_id, None))
            for config in configs
        ]
        for gone in before.values():
            self._forget(gone)
        for runtime in runtimes:
            self._owner[runtime.connection.id] = business_id
        self._businesses[business_id] = _Business(runtimes, generation == self._generation)
        return runtimes

    def _evicted(self, business: _Business) -> None:
        for runtime in business.runtimes:
            self._forget(runtime)

    def _forget(self, runtime: ConnectionRuntime) -> None:
        """A connection removed, or its business no longer kept: nothing of it stays."""
        connection = runtime.connection
        self._owner.pop(connection.id, None)
        self._budget_of.pop(connection.public_id, None)
        forget_breaker(self._breakers, connection.public_id, connection.provider)

    def _runtime(
        self, config: ConnectionConfig, kept: ConnectionRuntime | None
    ) -> ConnectionRuntime:
        connection = config.connection
        if kept is not None and kept.fingerprint == config.fingerprint:
            kept.synced_at = config.synced_at
            return kept
        spec = self._specs.get(connection.provider)
        problem = config.problem or (
            spec.check_mode(connection.mode)
            if spec
            else f"no provider named {connection.provider!r} in this server"
        )
        if problem is not None or spec is None or config.credential is None:
            log.error(
                "connection %s (%s) cannot be used: %s",
                connection.public_id,
                connection.provider,
                problem,
            )
            adapter: ProviderAdapter = Misconfigured(connection, problem or "unusable")
            return ConnectionRuntime(connection, adapter, None, config.fingerprint)
        if connection.mode == "indexed" or spec.adapter is None:  # read from the store
            indexed = IndexedAdapter(self._index, connection)
            return ConnectionRuntime(
                connection, indexed, None, config.fingerprint, config.synced_at
            )
        breaker = Breaker(self._breakers, connection.public_id, spec.name)
        http = self.http_for(spec, config, breaker=breaker)
        return ConnectionRuntime(
            connection, spec.adapter(http, connection), breaker, config.fingerprint
        )

    def http_for(
        self,
        spec: ProviderSpec,
        config: ConnectionConfig,
        *,
        breaker: Breaker | None = None,
        wait_for_budget: bool = False,
    ) -> ProviderHttp:
        """The HTTP of one connection, sharing its outbound budget with every other
        caller of the connection (the query path, the sync worker, other processes)."""
        connection = config.connection
        assert config.credential is not None
        budget = None
        if spec.outbound is not None:
            budget = self._budget_of.get(connection.public_id)
            if budget is None:
                budget = OutboundBudget(
                    self._budgets,
                    connection.public_id,
                    limit=spec.outbound.limit,
                    window_seconds=spec.outbound.window_seconds,
                    category=spec.outbound.category,
                    wait_limit=self._limits.wait_limit,
                )
                self._budget_of[connection.public_id] = budget
        limits = dataclasses.replace(
            self._limits,
            # A crawler waits out what a throttling provider asks (up to the wait limit),
            # and tries harder.
            attempts=CRAWLER_ATTEMPTS if wait_for_budget else spec.retry.attempts,
            longest_wait=self._limits.wait_limit if wait_for_budget else spec.retry.longest_wait,
        )
        return ProviderHttp(
            self._transport,
            provider=spec.name,
            base_url=connection.base_url,
            headers=spec.headers(connection.account_id, config.credential),
            limits=limits,
            budget=budget,
            breaker=breaker,
            wait_for_budget=wait_for_budget,
            connection=connection.public_id,
        )
