"""A soak: many businesses asked in turn for minutes, over real sockets, and the server's
resident memory printed as it goes. After the warm-up (every business asked once, its key
verified and its connections built) the figures should stay flat: what a process keeps
per business is bounded (BUSINESS_API_BUSINESS_CACHE_ENTRIES, _KEY_CACHE_ENTRIES), and
nothing else should grow with requests.

By default it starts `business-api demo` in a temporary folder and adds `--businesses`
businesses to the demo's store, each with a copy of the demo's live connections (its
emulated providers, on the demo's own port) and a key of its own. `--kept` sets both cache
sizes; below `--businesses`, the least recently used businesses are evicted and built
again all the time, which is the case to watch. `--attach URL --pid PID --env-file FILE`
soaks a server already running instead (FILE: its store's settings, as the demo writes
them in `business-api-demo.env`; the businesses are added to that store).

    python benchmarks/soak.py [--minutes 5] [--businesses 2000] [--kept 500]
        [--concurrency 8] [--every 20] [--sync-interval 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from server.demo_env import DEMO_ENV_FILE
from server.settings import Settings
from server.store.crypto import CredentialCipher
from server.store.database import create_engine, session_factory
from server.store.repository import ConnectionConfig, Store

QUERY = """{ activeBusiness { name participants(first: 10) { nodes { id name
  registrations(first: 3) { nodes { id status } } } } } }"""
HANDLE_PREFIX = "soak-"
SCOPES = ["business:read", "participants:read", "registrations:read"]


def rss_mb(pid: int) -> float:
    """Resident memory of the process (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no process {pid}")


@contextmanager
def demo(
    folder: Path, port: int, kept: int, sync_interval: float
) -> Iterator[subprocess.Popen[bytes]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BUSINESS_API_")}
    environ["BUSINESS_API_SYNC_INTERVAL"] = str(sync_interval)
    environ["BUSINESS_API_BUSINESS_CACHE_ENTRIES"] = str(kept)
    environ["BUSINESS_API_KEY_CACHE_ENTRIES"] = str(kept)
    environ["BUSINESS_API_LOG_LEVEL"] = "warning"
    environ["BUSINESS_API_KEY_RATE_LIMIT"] = "1000000"
    environ["BUSINESS_API_BUSINESS_RATE_LIMIT"] = "1000000"
    command = [str(Path(sys.executable).with_name("business-api")), "demo", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--database", str(folder / "demo.db")],
        cwd=folder,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (folder / DEMO_ENV_FILE).exists() or not _ready(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the demo did not start")
            time.sleep(0.5)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def add_businesses(env_file: Path, count: int) -> list[tuple[str, str]]:
    """(handle, key) of `count` businesses in the store `env_file` names, each with the
    live connections of the demo's @tremble; made once, found again on a second run."""
    settings = Settings.from_environ({}, env_file=env_file)
    engine = create_engine(settings.database_url)
    store = Store(session_factory(engine), CredentialCipher(str(settings.secret_key)))
    try:
        tremble = await store.get_business("tremble")
        assert tremble is not None, "the store has no @tremble (the demo's business)"
        live = [c for c in await store.connection_configs(tremble.id) if c.credential]
        live = [c for c in live if c.connection.mode == "live"]
        made = []
        for n in range(count):
            handle = f"{HANDLE_PREFIX}{n}"
            business = await store.get_business(handle)
            if business is None:
                business = await store.create_business(handle, f"Soak {n}")
                await _connect(store, business.id, live)
            _, key = await store.create_api_key(business.id, name="soak", scopes=SCOPES)
            made.append((business.handle, key))
        return made
    finally:
        await engine.dispose()


async def _connect(store: Store, business_id: int, live: list[ConnectionConfig]) -> None:
    for config in live:
        assert config.credential is not None
        await store.add_connection(
            business_id,
            provider=config.connection.provider,
            base_url=config.connection.base_url,
            account_id=config.connection.account_id,
            credential=config.credential,
            mode="live",
        )


async def soak(
    url: str, pid: int, keys: list[tuple[str, str]], minutes: float, concurrency: int, every: float
) -> None:
    started = time.monotonic()
    stop = started + minutes * 60
    counts = {"requests": 0, "failed": 0}
    turn = iter(range(1 << 62))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while time.monotonic() < stop:
                handle, key = keys[next(turn) % len(keys)]
                answer = await http.post(
                    f"/@{handle}/api/graphql",
                    json={"query": QUERY},
                    headers={"Authorization": f"Bearer {key}"},
                )
                counts["requests"] += 1
                if answer.status_code != 200 or "errors" in answer.json():
                    counts["failed"] += 1

    async def report() -> None:
        print(f"{'minute':>7} {'requests':>9} {'failed':>7} {'RSS MB':>8}", flush=True)
        while True:
            elapsed = (time.monotonic() - started) / 60
            line = f"{elapsed:7.2f} {counts['requests']:9d} {counts['failed']:7d}"
            print(f"{line} {rss_mb(pid):8.1f}", flush=True)
            await asyncio.sleep(every)

    reporting = asyncio.create_task(report())
    await asyncio.gather(*(client() for _ in range(concurrency)))
    reporting.cancel()
    print(f"end: {counts['requests']} requests, {counts['failed']} failed, "
          f"RSS {rss_mb(pid):.1f} MB", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--businesses", type=int, default=2000)
    parser.add_argument("--kept", type=int, default=500, help="both cache sizes of the demo")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--every", type=float, default=20, help="seconds between RSS lines")
    parser.add_argument("--port", type=int, default=18731)
    parser.add_argument(
        "--sync-interval", type=float, default=300, help="seconds between the demo's syncs"
    )
    parser.add_argument("--attach", help="the URL of a server already running")
    parser.add_argument("--pid", type=int, help="its process id (with --attach)")
    parser.add_argument("--env-file", type=Path, help="its store's settings (with --attach)")
    options = parser.parse_args()
    if options.attach:
        if options.pid is None or options.env_file is None:
            parser.error("--attach needs --pid and --env-file")
        keys = asyncio.run(add_businesses(options.env_file, options.businesses))
        asyncio.run(soak(options.attach, options.pid, keys, options.minutes,
                         options.concurrency, options.every))  # fmt: skip
        return
    with (
        tempfile.TemporaryDirectory(prefix="business-api-soak-") as folder,
        demo(Path(folder), options.port, options.kept, options.sync_interval) as process,
    ):
        keys = asyncio.run(add_businesses(Path(folder) / DEMO_ENV_FILE, options.businesses))
        print(f"demo pid {process.pid}: {len(keys)} businesses, {options.kept} kept", flush=True)
        asyncio.run(soak(f"http://127.0.0.1:{options.port}", process.pid, keys,
                         options.minutes, options.concurrency, options.every))  # fmt: skip


if __name__ == "__main__":
    main()
