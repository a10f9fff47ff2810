"""The sync worker: crawls indexed connections into the store and watches live ones for
what changed, within their providers' limits, one pass per connection at a time across
every process.

A sync pass takes the connection's lease in the store (renewed while it runs, so a crawl
that waits on a rate limit keeps it), runs the provider's crawler from the last
committed checkpoint, commits each batch with its next checkpoint, and records how it
ended. An interrupted crawl resumes after its last committed batch; a finished one makes
the next sync incremental. A provider that fails leaves the index as it was (queries
keep serving the last good data) and the failure in the sync state for `connections
list`.

Every pass detects changes (`server/changes/`): a crawl compares what it writes with the
index, a watch pass (a live connection whose provider has a watcher, every
`BUSINESS_API_WATCH_INTERVAL`) compares what changed since its watermark with the
fingerprints. Each connection runs a full pass every `BUSINESS_API_FULL_PASS_INTERVAL` (a
crawl from the start, a reconciliation reading everything): what it no longer finds was
removed, once it runs to its end, so a pass that fails halfway removes nothing. The
connection's first full pass records and emits nothing.

Connections are synced independently: several at once (`BUSINESS_API_SYNC_CONCURRENCY`),
each pass bounded in requests, time and the longest wait it accepts
(`server/limits/passes.py`), so that one connection's trouble never freezes or delays
another's. A pass that reaches a bound is not a failure: it says so in the sync state and
the next pass goes on from its checkpoint.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from server.changes import fingerprints, indexed
from server.changes.events import Change
from server.changes.fingerprints import Fingerprinter
from server.changes.log import counted
from server.changes.tracking import Tracking
from server.limits.passes import PassBounded, PassBounds, SyncPass, WaitTooLong, in_force
from server.providers.errors import ProviderError, ProviderRejected
from server.providers.http import ProviderHttp
from server.providers.indexed import ConnectionIndex
from server.providers.spec import ProviderSpec
from server.runtimes import Runtimes
from server.store.index import IndexStore, Plan
from server.store.repository import ConnectionConfig, Store
from server.sync_schedule import Schedule

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
    skipped: bool = False  # another sync holds the lease
    error: str | None = None
    stopped: str | None = None  # the pass reached a bound before catching up: why
    held_until: datetime | None = None  # when skipped: when the other sync's lease runs out


class SyncWorker:
    """Sync passes over indexed connections. `clock` (wall-clock seconds) and `sleep` are
    the time provider waits and pass bounds are measured in; leases keep real time."""

    def __init__(
        self,
        store: Store,
        index: IndexStore,
        runtimes: Runtimes,
        specs: Sequence[ProviderSpec],
        secret: str,
        *,
        lease_seconds: float = 60.0,
        bounds: PassBounds | None = None,
        concurrency: int = 4,
        watch_interval: float = 60.0,
        full_pass_every: float = 86400.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._index = index
        self._runtimes = runtimes
        self._specs = {spec.name: spec for spec in specs}
        self._person_key = hashlib.sha256(b"person ids:" + secret.encode()).digest()
        self._lease_seconds = lease_seconds
        self._bounds = bounds or PassBounds()
        self._concurrency = max(concurrency, 1)
        self._watch_interval = watch_interval
        self._full_pass_every = timedelta(seconds=full_pass_every)
        self._fingerprinter = Fingerprinter(secret)
        self._clock = clock
        self._sleep = sleep
        self.owner = f"{uuid.uuid4().hex[:12]}"  # this process, in the leases it takes

    def with_time(
        self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> SyncWorker:
        """This worker, measuring provider waits and pass bounds on another clock (a
        test's fake one): the same store, runtimes, bounds and lease owner."""
        twin = copy.copy(self)
        twin._clock, twin._sleep = clock, sleep
        return twin

    def _person_id(self, connection: str) -> Callable[[str], str]:
        def person_id(identity: str) -> str:
            message = f"{connection}\0{identity.strip().lower()}".encode()
            return hmac.new(self._person_key, message, hashlib.sha256).hexdigest()[:24]

        return person_id

    def _tracked(self, config: ConnectionConfig) -> bool:
        """Whether the worker passes over the connection: crawling an indexed one,
        watching a live one whose provider can say what changed."""
        spec = self._specs.get(config.connection.provider)
        if config.connection.mode == "indexed":
            return True
        return spec is not None and spec.watcher is not None

    async def tracked_configs(
        self, business_id: int | None = None, connection: str | None = None
    ) -> list[ConnectionConfig]:
        """The connections the worker passes over (all, a business's, or the one named)."""
        configs = (
            await self._store.connection_configs(business_id)
            if business_id is not None
            else await self._store.all_connection_configs()
        )
        return [
            c
            for c in configs
            if self._tracked(c) and (connection is None or c.connection.public_id == connection)
        ]

    async def sync_all(
        self,
        *,
        business_id: int | None = None,
        connection: str | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> list[Outcome]:
        """One pass of every tracked connection (or those named), up to the concurrency
        at once, so that none waits for another's provider; outcomes in store order."""
        slots = asyncio.Semaphore(self._concurrency)

        async def one(config: ConnectionConfig) -> Outcome:
            async with slots:
                return await self.sync(config, progress)

        configs = await self.tracked_configs(business_id, connection)
        try:
            async with asyncio.TaskGroup() as group:
                passes = [group.create_task(one(config)) for config in configs]
        except ExceptionGroup as failed:  # the store failed (a provider's failure is an
            raise failed.exceptions[0] from None  # outcome): as itself, for the CLI to say
        return [task.result() for task in passes]

    async def sync(
        self, config: ConnectionConfig, progress: Callable[[Progress], None] | None = None
    ) -> Outcome:
        """One pass of one connection: a crawl of an indexed one, a watch of a live one."""
        record = config.connection
        spec = self._specs.get(record.provider)
        indexed_mode = record.mode == "indexed"
        if (
            spec is None
            or (spec.crawler if indexed_mode else spec.watcher) is None
            or config.credential is None
        ):
            problem = config.problem or f"no crawler for provider {record.provider!r}"
            return Outcome(record.public_id, record.provider, False, error=problem)
        if not await self._index.take_lease(
            record.id, self.owner, datetime.now(UTC), self._lease_seconds
        ):
            until = await self._index.lease_until(record.id)
            return Outcome(record.public_id, record.provider, False, skipped=True, held_until=until)
        renewing = asyncio.create_task(self._renew(record.id))
        try:
            if indexed_mode:
                return await self._crawl(spec, config, progress)
            return await self._watch(spec, config)
        finally:
            renewing.cancel()
            await self._index.release_lease(record.id, self.owner)

    def _tracking(self, config: ConnectionConfig, plan: Plan) -> Tracking:
        record = config.connection
        return Tracking(
            business_id=record.business_id,
            connection_id=record.id,
            connection=record.public_id,
            provider=record.provider,
            full_pass=plan.full_pass,
            emit=not plan.first,
            observed_at=datetime.now(UTC),
        )

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
        this_pass = SyncPass(self._bounds, provider=spec.name, clock=self._clock, sleep=self._sleep)
        now = datetime.now(UTC)
        await self._index.started(record.id, now)
        plan = await self._index.plan(record.id, now, self._full_pass_every, restart=True)
        checkpoint, pace = plan.checkpoint, plan.pace
        sent = 0
        with in_force(this_pass):  # every request and wait of the crawl, within its bounds
            if http.budget is not None:
                http.budget.restore(pace)  # pace on from wherever the last crawler stopped
            try:
                async for found in crawler.crawl(checkpoint, now):
                    requests, sent = http.calls - sent, http.calls
                    counted(
                        await self._index.commit(
                            record.id,
                            replace(found, requests=requests),
                            http.budget.snapshot() if http.budget else None,
                            self._tracking(config, plan),
                        )
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
                                this_pass.waited,
                            )
                        )
            except PassBounded as bound:
                return await self._ended(config, http, stopped=_not_caught_up(bound, this_pass))
            except ProviderError as error:
                log.warning(
                    "sync failed: connection=%s provider=%s status=%s cause=%s",
                    record.public_id,
                    record.provider,
                    error.status,
                    error.detail,
                )
                return await self._ended(config, http, error=_failure(error, record.public_id))
            except Exception:
                log.exception(
                    "sync crashed: connection=%s provider=%s", record.public_id, record.provider
                )
                message = "the crawl failed on our side; see the server log"
                return await self._ended(config, http, error=message)
        if plan.full:
            counted(
                await self._index.full_pass_ended(self._tracking(config, plan), indexed.removed)
            )
        await self._index.finished(record.id, datetime.now(UTC), None)
        self._runtimes.connection_synced(record.id)  # its new freshness, here at once
        return Outcome(record.public_id, record.provider, True)

    async def _watch(self, spec: ProviderSpec, config: ConnectionConfig) -> Outcome:
        """A watch pass of a live connection: what changed since its watermark (or, in a
        full pass, everything it holds), compared with the fingerprints a batch at a
        time, each batch committed with the watermark after it."""
        record = config.connection
        assert spec.watcher is not None
        http = self._runtimes.http_for(spec, config, wait_for_budget=True)
        watcher = spec.watcher(http, record)
        this_pass = SyncPass(self._bounds, provider=spec.name, clock=self._clock, sleep=self._sleep)
        await self._index.started(record.id, datetime.now(UTC))
        plan = await self._index.plan(
            record.id, datetime.now(UTC), self._full_pass_every, restart=False
        )
        full = plan.full or plan.checkpoint is None
        batches = watcher.everything() if full else watcher.changed_since(plan.checkpoint)
        watermark = None
        with in_force(this_pass):
            if http.budget is not None:
                http.budget.restore(plan.pace)
            try:
                async for batch in batches:
                    tracking = self._tracking(config, plan)
                    # A full pass keeps its watermark for its end: stopped halfway, it
                    # starts again, and the watch goes on from where it was.
                    watermark = batch.watermark if batch.watermark is not None else watermark
                    kept = None if full else batch.watermark
                    counted(
                        await self._index.watched(tracking, batch.seen, self._fingerprinter, kept)
                    )
            except PassBounded as bound:
                return await self._ended(config, http, stopped=_not_caught_up(bound, this_pass))
            except ProviderError as error:
                log.warning(
                    "watch failed: connection=%s provider=%s status=%s cause=%s",
                    record.public_id,
                    record.provider,
                    error.status,
                    error.detail,
                )
                return await self._ended(config, http, error=_failure(error, record.public_id))
            except Exception:
                log.exception(
                    "watch crashed: connection=%s provider=%s", record.public_id, record.provider
                )
                message = "the watch failed on our side; see the server log"
                return await self._ended(config, http, error=message)
        if full:
            tracking = self._tracking(config, plan)
            changes: list[Change] = []
            if watermark is not None:
                changes = await self._index.watched(tracking, [], self._fingerprinter, watermark)
            changes += await self._index.full_pass_ended(tracking, fingerprints.removed)
            counted(changes)
        if http.budget is not None:
            await self._index.save_pace(record.id, http.budget.snapshot())
        await self._index.finished(record.id, datetime.now(UTC), None, invalidate=False)
        return Outcome(record.public_id, record.provider, True)

    async def _ended(
        self,
        config: ConnectionConfig,
        http: ProviderHttp,
        *,
        error: str | None = None,
        stopped: str | None = None,
    ) -> Outcome:
        """A pass that did not catch up: the provider's last word on its limits kept for
        the next one, and why in the sync state."""
        record = config.connection
        if http.budget is not None:
            await self._index.save_pace(record.id, http.budget.snapshot())
        await self._index.finished(record.id, datetime.now(UTC), error or stopped)
        return Outcome(record.public_id, record.provider, False, error=error, stopped=stopped)

    async def run_every(self, interval_seconds: float, *, first_after: float = 0.0) -> None:
        """The background sync of `serve` and `demo`: each connection on a schedule of its
        own (`sync_schedule.py`), `interval_seconds` after its last pass ended, up to the
        concurrency at once (the first passes after `first_after` seconds)."""
        await self._sleep(first_after)
        schedule = Schedule(interval_seconds)
        running: dict[str, asyncio.Task[Outcome]] = {}
        try:
            while True:
                configs = await self._configs_or_none()
                wait: float | None = interval_seconds  # the store failed: try again then
                if configs is not None:
                    wait = self._start_due(schedule, configs, running, interval_seconds)
                timer = asyncio.ensure_future(self._sleep(wait)) if wait is not None else None
                waited_on: list[asyncio.Future[Any]] = [*running.values()]
                try:
                    await asyncio.wait(
                        [*waited_on, *([timer] if timer else [])],
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    if timer is not None:
                        timer.cancel()
                for public_id, task in list(running.items()):
                    if task.done():
                        del running[public_id]
                        watched = (
                            configs is not None
                            and public_id in configs
                            and (configs[public_id].connection.mode != "indexed")
                        )
                        schedule.ended(
                            public_id,
                            self._clock(),
                            go_on=_goes_on(task),
                            interval=self._watch_interval if watched else None,
                        )
        finally:  # stopped: no pass outlives the worker (each lets go of its lease)
            for task in running.values():
                task.cancel()
            await asyncio.gather(*running.values(), return_exceptions=True)

    def _start_due(
        self,
        schedule: Schedule,
        configs: dict[str, ConnectionConfig],
        running: dict[str, asyncio.Task[Outcome]],
        interval_seconds: float,
    ) -> float | None:
        """Start the passes due, the longest overdue first, in the free slots; how long
        until the next one is due (None: no slot is free, only a pass ending matters)."""
        now = self._clock()
        schedule.keep(configs, now)
        free = self._concurrency - len(running)
        for public_id in schedule.due(now, running.keys(), free):
            running[public_id] = asyncio.create_task(self.sync(configs[public_id]))
        if len(running) >= self._concurrency:
            return None
        due = schedule.next_due(running.keys())
        # Without one due, still look again after an interval: for connections added since.
        return interval_seconds if due is None else max(due - now, 0.0)

    async def _configs_or_none(self) -> dict[str, ConnectionConfig] | None:
        try:
            return {c.connection.public_id: c for c in await self.tracked_configs()}
        except Exception:
            log.exception("background sync failed to read the connections")
            return None


def _goes_on(task: asyncio.Task[Outcome]) -> bool:
    """Whether a finished pass stopped at a bound with more to do; its outcome logged."""
    if task.cancelled():
        return False
    error = task.exception()
    if error is not None:
        log.error("background sync pass failed", exc_info=error)
        return False
    outcome = task.result()
    if outcome.error:
        log.warning("sync of %s: %s", outcome.connection, outcome.error)
    elif outcome.stopped:
        log.info("sync of %s: %s", outcome.connection, outcome.stopped)
    return outcome.stopped is not None


def _not_caught_up(bound: PassBounded, this_pass: SyncPass) -> str:
    """What a pass that stopped at a bound says in `connections list`."""
    throttled = ""
    if this_pass.throttled:
        throttled = (
            f"; the provider throttled {this_pass.throttled} of its "
            f"{this_pass.requests} requests (HTTP 429)"
        )
    return (
        f"not caught up yet: this pass stopped because {bound.reason}{throttled}; "
        "the next pass goes on from where it stopped"
    )


def _failure(error: ProviderError, connection: str) -> str:
    """What the operator is told, in `connections list` and by `business-api sync`."""
    if isinstance(error, ProviderRejected):
        return (
            f"the provider refused the credential (HTTP {error.status}): check it, then "
            f"`business-api connections update {connection} --credential -`"
        )
    if error.status == 404:
        return "the provider does not know this account (HTTP 404): check --account-id"
    if isinstance(error, WaitTooLong):
        return f"the provider failed: {error.detail}; the next pass asks again"
    return f"the provider failed: {error.detail}"
