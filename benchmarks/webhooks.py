"""Webhook deliveries, measured over real sockets: how many events a second `serve`
delivers to a local receiver, and how long after a change at a provider its webhook
arrives, at the default intervals.

It starts `business-api demo` in a temporary folder (its activity off, every interval at
its default unless given) and subscribes a receiver in this process to @tremble's events
with the demo's key, through the demo's store.

- **Throughput**: `--burst` events are written to the change log and outbox at once (as
  detection writes them), for an ordered and an unordered subscription in turn; printed:
  events a second until the last arrived.
- **Delay**: `--changes` renames of Wix contacts, one every `--spacing` seconds, through
  the emulator's own HTTP API (`POST /__mutate`); printed: p50, p99 and the longest delay
  from each rename to its webhook. At the default 60 s watch interval, most of it is the
  wait for the next watch pass.

    python benchmarks/webhooks.py [--burst 2000] [--changes 12] [--spacing 20]
        [--watch-interval 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from schema.policy import load_policy
from server.changes.events import Action, Change, Kind, gid
from server.changes.log import append
from server.demo_env import DEMO_ENV_FILE
from server.settings import Settings
from server.store.crypto import CredentialCipher
from server.store.database import create_engine, session_factory
from server.store.models import Business
from server.webhooks.outbox import Outbox
from server.webhooks.subscriptions import Subscriptions


class Receiver:
    """Records when each delivery arrived, by its payload."""

    def __init__(self) -> None:
        self.arrived: list[tuple[float, dict[str, Any]]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = await Request(scope, receive).body()
        self.arrived.append((time.monotonic(), orjson.loads(body)))
        await Response(status_code=204)(scope, receive, send)


def serve_in_thread(app: Any) -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def demo(folder: Path, watch_interval: float) -> Iterator[dict[str, str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BUSINESS_API_")}
    environ |= {
        "BUSINESS_API_DEMO_ACTIVITY": "false",
        "BUSINESS_API_WATCH_INTERVAL": str(watch_interval),
        "BUSINESS_API_SYNC_INTERVAL": "300",
        "BUSINESS_API_LOG_LEVEL": "warning",
    }
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    command = [str(Path(sys.executable).with_name("business-api")), "demo", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--database", str(folder / "demo.db")],
        cwd=folder,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: dict[str, str] = {"base": f"http://127.0.0.1:{port}"}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if match := re.match(r"^API key: (\S+)", line):
                found["key"] = match.group(1)
            if match := re.match(r"^\s+wix\s+(\S+)\s.*--credential (\S+)", line):
                found["wix"], found["credential"] = match.group(1), match.group(2)
            if "business-api webhooks list" in line:
                break
        threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
        yield found
    finally:
        process.terminate()
        process.wait(timeout=30)


async def subscribe(folder: Path, key: str, url: str, *, ordered: bool) -> None:
    """This one subscription of @tremble's, every other disabled: each phase measures
    the deliveries to its own receiver alone."""
    settings = Settings.from_environ({}, env_file=folder / DEMO_ENV_FILE)
    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        subscriptions = Subscriptions(
            sessions, CredentialCipher(str(settings.secret_key)), load_policy(settings.policy_path)
        )
        for earlier in await subscriptions.listed("tremble"):
            if earlier.enabled:
                await subscriptions.disable(earlier.public_id, "another benchmark phase")
        await subscriptions.create(
            "tremble",
            url,
            ["participant.created", "participant.updated"],
            key.split("_")[1],
            ordered=ordered,
        )
    finally:
        await engine.dispose()


async def burst(folder: Path, events: int) -> None:
    """`events` changes of @tremble logged with their deliveries, as detection does."""
    settings = Settings.from_environ({}, env_file=folder / DEMO_ENV_FILE)
    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        outbox = Outbox(load_policy(settings.policy_path))
        async with sessions() as session:
            business_id = await session.scalar(
                select(Business.id).where(Business.handle == "tremble")
            )
        assert business_id is not None, "the demo's store has no @tremble"
        now = datetime.now(UTC)
        tag = uuid.uuid4().hex[:6]
        for start in range(0, events, 200):
            changes = [
                Change(
                    Kind.PARTICIPANT,
                    Action.CREATED,
                    gid(Kind.PARTICIPANT, "conn_bench", f"{tag}{n}"),
                    gid(Kind.PARTICIPANT, "conn_bench", f"{tag}{n}"),
                    "conn_bench",
                    "wix",
                    now,
                    snapshot={"name": f"Burst {n}"},
                )
                for n in range(start, min(start + 200, events))
            ]
            async with sessions() as session, session.begin():
                seqs = await append(session, business_id, changes)
                await outbox.enqueue(session, business_id, changes, seqs)
    finally:
        await engine.dispose()


def throughput(folder: Path, key: str, events: int, ordered: bool) -> float:
    receiver = Receiver()
    url = serve_in_thread(receiver) + "/hook"
    asyncio.run(subscribe(folder, key, url, ordered=ordered))
    started = time.monotonic()
    asyncio.run(burst(folder, events))
    deadline = started + 600
    while len(receiver.arrived) < events and time.monotonic() < deadline:
        time.sleep(0.05)
    took = receiver.arrived[-1][0] - started
    return len(receiver.arrived) / took


def delays(found: dict[str, str], folder: Path, changes: int, spacing: float) -> list[float]:
    receiver = Receiver()
    url = serve_in_thread(receiver) + "/hook"
    asyncio.run(subscribe(folder, found["key"], url, ordered=True))
    headers = {"Authorization": found["credential"], "wix-site-id": "site-tremble"}
    with httpx.Client(base_url=found["wix"], headers=headers, timeout=30) as wix:
        contacts = wix.post("/contacts/v4/contacts/query", json={"query": {}}).json()["contacts"]
        sent: dict[str, float] = {}
        for n in range(changes):
            name = f"Renamed {uuid.uuid4().hex[:8]}"
            contact = contacts[n % len(contacts)]["id"]
            answer = wix.post(
                "/__mutate",
                json={"kind": "participant", "op": "change", "id": contact, "name": name},
            )
            answer.raise_for_status()
            sent[name] = time.monotonic()
            time.sleep(spacing)
    deadline = time.monotonic() + 300
    arrived: dict[str, float] = {}
    while len(arrived) < len(sent) and time.monotonic() < deadline:
        for at, body in receiver.arrived:
            name = ((body.get("data") or {}).get("record") or {}).get("name")
            if name in sent:
                arrived.setdefault(name, at)
        time.sleep(0.2)
    return sorted(arrived[name] - sent[name] for name in arrived)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=12)
    parser.add_argument("--spacing", type=float, default=20.0)
    parser.add_argument("--watch-interval", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        with demo(folder, args.watch_interval) as found:
            if args.changes:
                measured = delays(found, folder, args.changes, args.spacing)
                if measured:
                    p50 = statistics.median(measured)
                    p99 = measured[min(len(measured) - 1, int(len(measured) * 0.99))]
                    print(
                        f"change to webhook, watch interval {args.watch_interval:g} s: "
                        f"{len(measured)}/{args.changes} arrived, p50 {p50:.1f} s, "
                        f"p99 {p99:.1f} s, longest {measured[-1]:.1f} s"
                    )
            for ordered in (True, False):
                rate = throughput(folder, found["key"], args.burst, ordered)
                kind = "ordered" if ordered else "unordered"
                print(f"burst of {args.burst} events, {kind}: {rate:.0f} events/s delivered")


if __name__ == "__main__":
    main()
