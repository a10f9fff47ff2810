"""Connection runtimes: what the running server keeps for each provider connection.

A runtime is built once from the store (one query per business, one decryption per
credential) and kept: its adapter over a `ProviderHttp` with the connection's auth
headers, deadline and retry policy, its outbound budget, its circuit breaker and the
adapter's own short-lived caches. A warm request reads no store and decrypts nothing.

Runtimes are dropped when the store says connections changed (`invalidate`, called by
this process after a change it made, and by the store watcher when another process made
one); a rebuilt business reuses the runtime of every connection whose settings did not
change, so its breaker and caches survive.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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
from server.providers.breaker import Breaker
from server.providers.errors import ProviderError
from server.providers.http import ProviderHttp, Transport, UpstreamLimits
from server.providers.indexed import IndexedAdapter
from server.providers.spec import ProviderSpec
from server.store.index import IndexStore
from server.store.repository import ConnectionConfig, Store

log = logging.getLogger(__name__)

CRAWLER_ATTEMPTS = 6


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
    ) -> None:
        self._store = store
        self._index = index
        self._specs = {spec.name: spec for spec in specs}
        self._transport = transport
        self._limits = limits
        self._budgets = budgets
        self._breakers = breakers
        self._by_business: dict[str, list[ConnectionRuntime]] = {}
        self._by_connection: dict[str, ConnectionRuntime] = {}
        self._loading: dict[str, asyncio.Task[list[ConnectionRuntime]]] = {}
        self._budget_of: dict[str, OutboundBudget] = {}

    async def of(self, business: BusinessRecord) -> list[ConnectionRuntime]:
        """The business's runtimes in connection order (built on first use)."""
        found = self._by_business.get(business.public_id)
        if found is not None:
            return found
        # Concurrent first requests share one load.
        task = self._loading.get(business.public_id)
        if task is None:
            task = asyncio.ensure_future(self._load(business.public_id))
            self._loading[business.public_id] = task
            task.add_done_callback(lambda _: self._loading.pop(business.public_id, None))
        return await asyncio.shield(task)

    def connection(self, public_id: str) -> ConnectionRuntime | None:
        """A connection's runtime, if its business was loaded."""
        return self._by_connection.get(public_id)

    def invalidate(self) -> None:
        """Connections changed: reload each business on its next request."""
        self._by_business.clear()

    async def _load(self, business_public_id: str) -> list[ConnectionRuntime]:
        configs = await self._store.connection_configs(business_public_id=business_public_id)
        runtimes = [self._runtime(config) for config in configs]
        for runtime in runtimes:
            self._by_connection[runtime.connection.public_id] = runtime
        self._by_business[business_public_id] = runtimes
        return runtimes

    def _runtime(self, config: ConnectionConfig) -> ConnectionRuntime:
        connection = config.connection
        kept = self._by_connection.get(connection.public_id)
        if kept is not None and kept.fingerprint == config.fingerprint:
            kept.synced_at = config.synced_at
            return kept
        spec = self._specs.get(connection.provider)
        problem = config.problem or (
            None if spec else f"no provider named {connection.provider!r} in this server"
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
        if spec.adapter is None:  # indexed: read from the store, no provider call
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
