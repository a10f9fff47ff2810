"""The sync worker: crawls indexed connections into the store, within their providers'
limits, one crawler per connection across every process.

A sync takes the connection's lease in the store (renewed while it runs, so a crawl that
waits on a rate limit keeps it), runs the provider's crawler from the last committed
checkpoint, commits each batch with its next checkpoint, and records how it ended. An
interrupted crawl resumes after its last committed batch; a finished one makes the next
sync incremental. A provider that fails leaves the index as it was (queries keep serving
the last good data) and the failure in the sync state for `connections list`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from server.providers.errors import ProviderError, ProviderRejected
from server.providers.indexed import ConnectionIndex
from server.providers.spec import ProviderSpec
from server.runtimes import Runtimes
from server.store.index import IndexStore
from server.store.repository import ConnectionConfig, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    connection: str
    provider: str
    requests: int
    participants: int
    registrations: int
    waited_seconds: float

    def line(self) -> str:
        return (
            f"{self.provider} {self.connection}: {self.requests} requests, "
            f"{self.participants} participants and {self.registrations} registrations "
            f"indexed, {self.waited_seconds:.1f} s waited for the rate limit"
        )


@dataclass(frozen=True)
class Outcome:
    connection: str
    provider: str
    synced: bool  # caught up
    skipped: bool = False  # another process holds the lease
    error: str | None = None


class SyncWorker:
    def __init__(
        self,
        store: Store,
        index: IndexStore,
        runtimes: Runtimes,
        specs: Sequence[ProviderSpec],
        secret: str,
        *,
        lease_seconds: float = 60.0,
    ) -> None:
        self._store = store
        self._index = index
        self._runtimes = runtimes
        self._specs = {spec.name: spec for spec in specs}
        self._person_key = hashlib.sha256(b"person ids:" + secret.encode()).digest()
        self._lease_seconds = lease_seconds
        self.owner = f"{uuid.uuid4().hex[:12]}"  # this process, in the leases it takes

    def _person_id(self, connection: str) -> Callable[[str], str]:
        def person_id(identity: str) -> str:
            message = f"{connection}\0{identity.strip().lower()}".encode()
            return hmac.new(self._person_key, message, hashlib.sha256).hexdigest()[:24]

        return person_id

    async def indexed_configs(
        self, business_id: int | None = None, connection: str | None = None
    ) -> list[ConnectionConfig]:
        configs = (
            await self._store.connection_configs(business_id)
            if business_id is not None
            else await self._store.all_connection_configs()
        )
        return [
            c
            for c in configs
            if c.connection.mode == "indexed"
            and (connection is None or c.connection.public_id == connection)
        ]

    async def sync_all(
        self,
        *,
        business_id: int | None = None,
        connection: str | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> list[Outcome]:
        outcomes = []
        for config in await self.indexed_configs(business_id, connection):
            outcomes.append(await self.sync(config, progress))
        return outcomes

    async def sync(
        self, config: ConnectionConfig, progress: Callable[[Progress], None] | None = None
    ) -> Outcome:
        record = config.connection
        spec = self._specs.get(record.provider)
        if spec is None or spec.crawler is None or config.credential is None:
            problem = config.problem or f"no crawler for provider {record.provider!r}"
            return Outcome(record.public_id, record.provider, False, error=problem)
        if not await self._index.take_lease(
            record.id, self.owner, datetime.now(UTC), self._lease_seconds
        ):
            return Outcome(record.public_id, record.provider, False, skipped=True)
        renewing = asyncio.create_task(self._renew(record.id))
        try:
            return await self._crawl(spec, config, progress)
        finally:
            renewing.cancel()
            await self._index.release_lease(record.id, self.owner)

    async def _renew(self, connection_id: int) -> None:
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            await self._index.take_lease(
                connection_id, self.owner, datetime.now(UTC), self._lease_seconds
            )

    async def _crawl(
        self,
        spec: ProviderSpec,
        config: ConnectionConfig,
        progress: Callable[[Progress], None] | None,
    ) -> Outcome:
        record = config.connection
        assert spec.crawler is not None
        http = self._runtimes.http_for(spec, config, wait_for_budget=True)
        crawler = spec.crawler(
            http,
            record,
            ConnectionIndex(self._index, record.id),
            self._person_id(record.public_id),
        )
        now = datetime.now(UTC)
        await self._index.started(record.id, now)
        checkpoint, pace = await self._index.checkpoint(record.id)
        if http.budget is not None:
            http.budget.restore(pace)  # pace on from wherever the last crawler stopped
        sent = 0
        try:
            async for found in crawler.crawl(checkpoint, now):
                requests, sent = http.calls - sent, http.calls
                await self._index.commit(
                    record.id,
                    replace(found, requests=requests),
                    http.budget.snapshot() if http.budget else None,
                )
                if progress is not None:
                    status = (await self._index.status([record.id]))[record.id]
                    progress(
                        Progress(
                            record.public_id,
                            record.provider,
                            status.requests,
                            status.participants,
                            status.registrations,
                            http.waited_seconds,
                        )
                    )
        except ProviderError as error:
            message = _failure(error, record.public_id)
            log.warning(
                "sync failed: connection=%s provider=%s status=%s cause=%s",
                record.public_id,
                record.provider,
                error.status,
                error.detail,
            )
            await self._index.finished(record.id, datetime.now(UTC), message)
            return Outcome(record.public_id, record.provider, False, error=message)
        except Exception:
            log.exception(
                "sync crashed: connection=%s provider=%s", record.public_id, record.provider
            )
            message = "the crawl failed on our side; see the server log"
            await self._index.finished(record.id, datetime.now(UTC), message)
            return Outcome(record.public_id, record.provider, False, error=message)
        await self._index.finished(record.id, datetime.now(UTC), None)
        self._runtimes.connection_synced(record.id)  # its new freshness, here at once
        return Outcome(record.public_id, record.provider, True)

    async def run_every(self, interval_seconds: float, *, first_after: float = 0.0) -> None:
        """The background sync of `serve` and `demo`: every connection, every interval
        (the first pass after `first_after` seconds)."""
        await asyncio.sleep(first_after)
        while True:
            try:
                for outcome in await self.sync_all():
                    if outcome.error:
                        log.warning("sync of %s: %s", outcome.connection, outcome.error)
            except Exception:
                log.exception("background sync failed")
            await asyncio.sleep(interval_seconds)


def _failure(error: ProviderError, connection: str) -> str:
    """What the operator is told, in `connections list` and by `business-api sync`."""
    if isinstance(error, ProviderRejected):
        return (
            f"the provider refused the credential (HTTP {error.status}): check it, then "
            f"`business-api connections update {connection} --credential -`"
        )
    if error.status == 404:
        return "the provider does not know this account (HTTP 404): check --account-id"
    return f"the provider failed: {error.detail}"
