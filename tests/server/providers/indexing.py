"""A store with one business connected to one indexed provider's emulator, and the sync
worker that crawls it: what the crawler tests drive."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.providers.registry import PROVIDERS
from server.providers.spec import ProviderSpec
from server.services import Graph, Services
from server.store.index import SyncStatus
from server.store.models import IndexedParticipant, IndexedRegistration, IndexedSession
from server.sync import Outcome, Progress, SyncWorker
from tests.server.conftest import settings_for
from tests.upstream import SocketUpstream

SAFETY_SECONDS = 60


@dataclass(frozen=True)
class Place:
    """Where a crawl test runs: its folder (with a migrated store), the socket its
    emulator is served on, and the session's graphs."""

    tmp_path: Path
    upstream: SocketUpstream
    graph_of: Callable[[Path], Graph]


@pytest.fixture
def place(
    tmp_path: Path,
    migrated_store: Path,
    upstream: SocketUpstream,
    graph_of: Callable[[Path], Graph],
) -> Place:
    return Place(tmp_path, upstream, graph_of)


class FakeTime:
    """A wall clock that moves only when the crawl sleeps: hours of provider waits take
    no time, and each is recorded."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Indexed:
    services: Services
    emulator: Any
    connection_id: int
    public_id: str
    progress: list[Progress]
    time: FakeTime | None = None

    @property
    def worker(self) -> SyncWorker:
        """The sync worker: on this crawl's fake clock when it has one."""
        if self.time is None:
            return self.services.sync
        return self.services.sync.with_time(self.time.clock, self.time.sleep)

    async def sync(self) -> Outcome:
        """One pass; a pass that would take a minute (a provider's wait slept for real,
        a crawl without end) fails the test instead of holding it."""
        [config] = await self.worker.tracked_configs(connection=self.public_id)
        async with asyncio.timeout(SAFETY_SECONDS):
            return await self.worker.sync(config, self.progress.append)

    async def status(self) -> SyncStatus:
        return (await self.services.index.status([self.connection_id]))[self.connection_id]

    async def checkpoint(self) -> tuple[Any, Any]:
        """The stored checkpoint and pace."""
        return await self.services.index.checkpoint(self.connection_id)

    async def checkpoint_bytes(self) -> int:
        checkpoint, _ = await self.checkpoint()
        return len(json.dumps(checkpoint))

    async def participants(self) -> list[IndexedParticipant]:
        return await self._all(IndexedParticipant, IndexedParticipant.id)

    async def registrations(self) -> list[IndexedRegistration]:
        return await self._all(IndexedRegistration, IndexedRegistration.provider_id)

    async def sessions(self) -> list[IndexedSession]:
        return await self._all(IndexedSession, IndexedSession.provider_id)

    async def _all(self, model: Any, order: Any) -> list[Any]:
        query = select(model).where(model.connection_id == self.connection_id).order_by(order)
        async with self.services.engine.connect() as connection:
            return list((await connection.execute(query)).all())


@asynccontextmanager
async def indexed(
    place: Place,
    provider: str,
    emulator: Any,
    *,
    account_id: str,
    credential: str,
    providers: Sequence[ProviderSpec] = PROVIDERS,
    fake_time: bool = False,
    **settings: Any,
) -> AsyncIterator[Indexed]:
    """`fake_time`: the provider's waits on a fake clock (`Indexed.time`), not slept."""
    built = settings_for(place.tmp_path, **settings)
    services = Services.build(built, providers, place.graph_of(built.policy_path))
    base_url = place.upstream.mount(emulator.app, provider)
    try:
        business = await services.store.create_business("tremble", "Tremble Studios")
        connection = await services.store.add_connection(
            business.id,
            provider=provider,
            base_url=base_url,
            account_id=account_id,
            credential=credential,
            mode="indexed",
        )
        clock = FakeTime() if fake_time else None
        yield Indexed(services, emulator, connection.id, connection.public_id, [], clock)
    finally:
        await services.close()
        place.upstream.unmount(base_url)
