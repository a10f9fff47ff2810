"""Deliveries by `business-api serve` processes: a burst survives a SIGKILL in its middle
(every event delivered at least once after a restart), and two processes on one
PostgreSQL store share a burst without delivering any event twice. Counted at a receiver
on a real socket; the deadlines only keep a broken run from hanging."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from schema.policy import load_policy
from server.changes.events import Action, Change, Kind, gid
from server.changes.log import append
from server.settings import DEFAULT_POLICY
from server.store.crypto import CredentialCipher
from server.store.database import create_engine, migrate, session_factory
from server.store.repository import Store
from server.webhooks.outbox import Outbox
from server.webhooks.subscriptions import Subscriptions
from tests.live import _command, _environ, _stop, _wait_until_serving, free_port
from tests.server.webhooks.receivers import Receiver
from tests.upstream import SocketUpstream

pytestmark = pytest.mark.subprocess

SECRET = "delivery-processes-secret-0123456789"
DEADLINE = 120  # seconds a run may take before it is called broken


async def a_burst(database_url: str, url: str, events: int, *, ordered: bool) -> None:
    """A business, a key, a subscription to `url`, and `events` logged changes with their
    deliveries in the outbox, written as detection writes them."""
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        cipher = CredentialCipher(SECRET)
        store = Store(sessions, cipher)
        business = await store.create_business("tremble", "Tremble Studios")
        record, _ = await store.create_api_key(
            business.id, name="hooks", scopes=["participants:read"]
        )
        policy = load_policy(DEFAULT_POLICY)
        await Subscriptions(sessions, cipher, policy).create(
            "tremble", url, ["participant.created"], record.key_id, ordered=ordered
        )
        outbox = Outbox(policy)
        now = datetime.now(UTC)
        for start in range(0, events, 100):
            changes = [
                Change(
                    Kind.PARTICIPANT,
                    Action.CREATED,
                    gid(Kind.PARTICIPANT, "conn_burst", f"p{n}"),
                    gid(Kind.PARTICIPANT, "conn_burst", f"p{n}"),
                    "conn_burst",
                    "wix",
                    now,
                    snapshot={"name": f"Person {n}"},
                )
                for n in range(start, min(start + 100, events))
            ]
            async with sessions() as session, session.begin():
                seqs = await append(session, business.id, changes)
                await outbox.enqueue(session, business.id, changes, seqs)
    finally:
        await engine.dispose()


@contextmanager
def serving(database_url: str) -> Iterator[subprocess.Popen[str]]:
    port = free_port()
    settings = {
        "BUSINESS_API_DATABASE_URL": database_url,
        "BUSINESS_API_SECRET_KEY": SECRET,
        "BUSINESS_API_WEBHOOK_ALLOW_PRIVATE": "true",
        "BUSINESS_API_WEBHOOK_TIMEOUT": "1",
    }
    process = subprocess.Popen(
        [*_command(), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_environ(settings),
    )
    try:
        _wait_until_serving(f"http://127.0.0.1:{port}")
        yield process
    finally:
        if process.poll() is None:
            _stop(process)


def seqs_of(receiver: Receiver) -> list[int]:
    return [int(body["data"]["seq"]) for body in receiver.bodies()]


def wait_for(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "the deliveries did not arrive in time"
        time.sleep(0.1)


class SlowReceiver(Receiver):
    """A receiver taking a few milliseconds per delivery: a burst lasts long enough to
    be killed in its middle."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0.01)
        await super().__call__(scope, receive, send)


def test_a_burst_survives_a_sigkill_in_its_middle(tmp_path: Path, upstream: SocketUpstream) -> None:
    receiver = SlowReceiver()
    url = upstream.mount(receiver, "killed") + "/hook"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    events = 300
    try:
        asyncio.run(a_burst(database_url, url, events, ordered=True))
        with serving(database_url) as process:
            wait_for(lambda: len(receiver.received) >= 50)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        killed_at = len(receiver.received)
        assert killed_at < events, "the burst ended before the kill"
        with serving(database_url):
            wait_for(lambda: set(seqs_of(receiver)) >= set(range(1, events + 1)))
    finally:
        upstream.unmount(url.rsplit("/", 1)[0])
    received = seqs_of(receiver)
    assert set(received) == set(range(1, events + 1))  # nothing lost
    # At least once: only what was in flight at the kill may come twice.
    assert len(received) - events <= 1
    first = [received.index(n) for n in range(1, events + 1)]
    assert first == sorted(first)  # in order, across the restart


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: two processes share a PostgreSQL store")
    name = f"deliveries_{uuid.uuid4().hex[:10]}"
    plain = url.replace("postgresql+asyncpg://", "postgresql://")

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(plain)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_two_serve_processes_share_a_burst_and_deliver_no_event_twice(
    postgres_url: str, upstream: SocketUpstream
) -> None:
    receiver = Receiver()
    url = upstream.mount(receiver, "shared") + "/hook"
    events = 1000
    try:
        asyncio.run(a_burst(postgres_url, url, events, ordered=False))
        with serving(postgres_url), serving(postgres_url):
            wait_for(lambda: len(receiver.received) >= events)
            time.sleep(1)  # anything sent twice would arrive by now
    finally:
        upstream.unmount(url.rsplit("/", 1)[0])
    ids = [r.webhook_id for r in receiver.received]
    assert len(ids) == len(set(ids)) == events  # each delivered exactly once
    assert sorted(seqs_of(receiver)) == list(range(1, events + 1))
