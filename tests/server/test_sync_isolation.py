"""One connection's trouble never freezes or delays another's sync: two businesses'
Boxpressd connections synced in one worker run, one of them throttling without end.
The healthy one is caught up while the other is still held (proved by the order of
events: the hostile provider answers nothing until the healthy sync has completed), the
hostile one's pass ends at its bound with a clear word in the sync state, and the graph
keeps serving its last good data."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from server.sync import Outcome
from tests.server.conftest import World
from tests.server.providers.hostile_indexed import Gate, ThrottlingBoxpressd
from tests.server.providers.indexing import FakeTime
from tests.server.test_indexed import PAGE, indexed_page, sync
from tests.upstream import SocketUpstream

PASS_REQUESTS = 6


@pytest.fixture
def connected() -> dict[str, tuple[str, ...]]:
    return {"tremble": ("wix", "boxpressd"), "acme": ("wix", "boxpressd")}


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {
        "key_rate_limit": 100_000,
        "business_rate_limit": 100_000,
        "sync_pass_requests": PASS_REQUESTS,
    }


async def completed_sync(world: World, connection: str, after: Any, gate: Gate) -> None:
    """Opens the gate once `connection`'s sync has completed (after `after`)."""
    index = world.services.index
    [record] = [
        c for c in await world.services.store.list_connections() if c.public_id == connection
    ]
    while True:
        status = (await index.status([record.id]))[record.id]
        if status.last_completed_at and status.last_completed_at > after:
            gate.open()
            return
        await asyncio.sleep(0.005)


async def test_a_throttling_provider_holds_up_no_other_business_and_keeps_its_last_data(
    world: World, upstream: SocketUpstream
) -> None:
    await sync(world)
    before, after = await indexed_page(world)
    stamp = before["extensions"]["freshness"][0]["lastSyncedAt"]
    statuses = await world.services.index.status()
    acme_connection = world.connection_ids[("acme", "boxpressd")]
    acme_synced = max(s.last_completed_at for s in statuses.values() if s.last_completed_at)

    gate = Gate(after=1)  # the hostile answers nothing until the healthy sync completed
    hostile = ThrottlingBoxpressd(gate=gate)
    base_url = upstream.mount(hostile.app, "hostile")
    tremble_connection = world.connection_ids[("tremble", "boxpressd")]
    await world.services.store.update_connection(tremble_connection, base_url=base_url)
    world.emulator("boxpressd", "acme").add_sessions(3)
    acme_before = await acme_registrations(world, acme_connection)
    fake = FakeTime()
    worker = world.services.sync.with_time(fake.clock, fake.sleep)
    try:
        watcher = asyncio.create_task(completed_sync(world, acme_connection, acme_synced, gate))
        outcomes = {o.connection: o for o in await worker.sync_all()}
        watcher.cancel()
    finally:
        upstream.unmount(base_url)

    assert gate.opened_first, "the healthy sync did not complete while the other was held"
    assert hostile.after_gate == PASS_REQUESTS  # it was still working after that
    healthy, held = outcomes[acme_connection], outcomes[tremble_connection]
    assert healthy == Outcome(acme_connection, "boxpressd", True)
    assert await acme_registrations(world, acme_connection) == acme_before + 3
    assert held.error is None and held.stopped == (
        f"not caught up yet: this pass stopped because it sent its {PASS_REQUESTS} requests "
        f"(BUSINESS_API_SYNC_PASS_REQUESTS); the provider throttled {PASS_REQUESTS} of its "
        f"{PASS_REQUESTS} requests (HTTP 429); the next pass goes on from where it stopped"
    )
    assert min(fake.sleeps) >= 1  # each 429 a wait, though it said 0

    body = (await world.query(PAGE, {"after": after})).json()
    assert body["data"] == before["data"] and "errors" not in body
    assert body["extensions"]["freshness"][0]["lastSyncedAt"] == stamp
    connections = await world.services.store.list_connections()
    [record] = [c for c in connections if c.public_id == tremble_connection]
    listed = (await world.services.index.status([record.id]))[record.id]
    assert listed.last_error == held.stopped


async def acme_registrations(world: World, connection: str) -> int:
    [record] = [
        c for c in await world.services.store.list_connections() if c.public_id == connection
    ]
    return (await world.services.index.status([record.id]))[record.id].registrations


async def test_the_background_worker_keeps_syncing_others_while_one_pass_is_held(
    world: World, upstream: SocketUpstream
) -> None:
    """Each connection on a schedule of its own: the healthy one's next passes come due
    and run while the other's first pass is still held, rather than after it."""
    acme_connection = world.connection_ids[("acme", "boxpressd")]
    gate = Gate(after=1)  # holds the hostile until acme was synced twice
    hostile = ThrottlingBoxpressd(gate=gate)
    base_url = upstream.mount(hostile.app, "hostile")
    tremble_connection = world.connection_ids[("tremble", "boxpressd")]
    await world.services.store.update_connection(tremble_connection, base_url=base_url)
    fake = FakeTime()
    worker = world.services.sync.with_time(fake.clock, fake.sleep)
    [record] = [
        c for c in await world.services.store.list_connections() if c.public_id == acme_connection
    ]
    completed: set[Any] = set()

    async def twice_synced() -> None:
        while len(completed) < 2:
            status = (await world.services.index.status([record.id])).get(record.id)
            if status is not None and status.last_completed_at is not None:
                completed.add(status.last_completed_at)
            await asyncio.sleep(0.002)
        gate.open()

    background = asyncio.create_task(worker.run_every(300))
    try:
        await twice_synced()
        while gate.opened_first is None or hostile.after_gate < 1:  # the held pass goes on
            await asyncio.sleep(0.005)
    finally:
        background.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await background
        upstream.unmount(base_url)
    assert gate.opened_first, "the healthy connection's second pass waited for the other"
