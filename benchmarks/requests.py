"""The Business API document's example query under load, over real sockets.

A Wix-shaped upstream runs in its own process (the peer benchmark's `upstream/server.js`:
500 contacts with 10 bookings and 10 one-line orders each, page limit 100; `node` must be
installed), `business-api serve` in another, and `wrk` sends the query (25 participants
with consent, 10 registrations and 10 purchases each) from a third. Printed: requests/s,
latency p50/p90/p99, the server's CPU time per request (its processes' CPU time over the
run divided by the requests) and upstream calls per request.

    python benchmarks/requests.py [--connections 10] [--duration 15] [--warmup 5]
        [--latency-ms 0] [--workers 1] [--peer-bench ../shared/peer-bench] [--demo]

`--demo` runs `business-api demo` instead of `serve`, on the same store with the same
business (the demo adds its own, on its emulators, and changes their data now and then).

The benchmark's connection is live and watched: its first watch reconciles all of the
upstream's data (thousands of bookings and orders), and later ones come every watch
interval, on the same CPU as the requests. So that the figures are of the request path,
passes after the first come only after an hour (`--sync-every` to change it), and the
warm-up starts once every connection's first pass has completed (the demo's too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from schema.example import EXAMPLE_QUERY as QUERY

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
SECRET = "benchmark-secret-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} is not answering")


@contextmanager
def running(
    command: list[str], env: dict[str, str], url: str, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=cwd)
    try:
        wait_for(url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(root: int) -> float:
    """User + system CPU time of a process and all its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(times.get(pid, 0.0) for pid in tree)


async def prepare(database: str, upstream: str) -> str:
    from server.store.crypto import CredentialCipher
    from server.store.database import create_engine, migrate, session_factory
    from server.store.repository import Store

    engine = create_engine(database)
    await migrate(engine)
    store = Store(session_factory(engine), CredentialCipher(SECRET))
    business = await store.create_business("bench", "Benchmark Studio")
    await store.add_connection(
        business.id,
        provider="wix",
        base_url=upstream,
        account_id="site-bench",
        credential="bench-key",
        mode="live",
    )
    scopes = [
        "business:read",
        "participants:read",
        "participants.email:read",
        "registrations:read",
        "purchases:read",
    ]
    _, key = await store.create_api_key(business.id, name="bench", scopes=scopes)
    await engine.dispose()
    return key


def first_passes_completed(database: str, seconds: float = 300) -> None:
    """Wait until every connection (the demo's too) has completed its first pass."""
    import sqlite3

    path = database.split("///", 1)[1]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with sqlite3.connect(path) as store:
            pending = store.execute(
                "SELECT count(*) FROM provider_connections c LEFT JOIN sync_states s"
                " ON c.id = s.connection_id WHERE s.last_completed_at IS NULL"
            ).fetchone()[0]
        if not pending:
            return
        time.sleep(0.5)
    raise SystemExit("a connection did not complete its first pass")


def wrk(url: str, key: str, connections: int, seconds: float, query: str) -> dict[str, float]:
    env = {
        **os.environ,
        "BENCH_BODY": json.dumps({"query": query}),
        "BENCH_HEADER": f"Authorization: Bearer {key}",
    }
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(HERE / "wrk.lua"), url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    return {k: float(v) for k, v in (item.split("=") for item in line.split()[1:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379/15", help="for the rate limits of --workers"
    )
    parser.add_argument("--peer-bench", type=Path, default=ROOT.parent / "shared" / "peer-bench")
    parser.add_argument("--demo", action="store_true", help="business-api demo, not serve")
    parser.add_argument(
        "--sync-every", default="3600", help="seconds between sync and watch passes"
    )
    parser.add_argument(
        "--query", default=QUERY, help="another document (default: the document's example)"
    )
    arguments = parser.parse_args()
    upstream_js = arguments.peer_bench / "upstream" / "server.js"
    for tool in ("wrk", "node"):
        if shutil.which(tool) is None:
            raise SystemExit(f"`{tool}` is needed: apt-get install {tool}")
    if not upstream_js.exists():
        raise SystemExit(f"no upstream at {upstream_js}: pass --peer-bench PATH")

    with tempfile.TemporaryDirectory() as folder:
        upstream_port, server_port = free_port(), free_port()
        upstream = f"http://127.0.0.1:{upstream_port}"
        database = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        key = asyncio.run(prepare(database, upstream))
        environ = {k: v for k, v in os.environ.items() if not k.startswith("BUSINESS_API_")}
        settings = {
            **environ,
            "BUSINESS_API_DATABASE_URL": database,
            "BUSINESS_API_SECRET_KEY": SECRET,
            "BUSINESS_API_KEY_RATE_LIMIT": "100000000",
            "BUSINESS_API_BUSINESS_RATE_LIMIT": "100000000",
            "BUSINESS_API_SYNC_INTERVAL": arguments.sync_every,
            "BUSINESS_API_WATCH_INTERVAL": arguments.sync_every,
        }
        node_env = {
            **os.environ,
            "PORT": str(upstream_port),
            "LATENCY_MS": str(arguments.latency_ms),
        }
        command = (
            ["demo", "--database", str(Path(folder) / "bench.db")] if arguments.demo else ["serve"]
        )
        server = [sys.executable, "-m", "server.cli", *command, "--port", str(server_port)]
        if arguments.workers > 1:
            server += ["--workers", str(arguments.workers)]
            settings["BUSINESS_API_REDIS_URL"] = arguments.redis
        url = f"http://127.0.0.1:{server_port}/@bench/api/graphql"
        with (
            running(
                ["node", str(upstream_js)], node_env, f"{upstream}/__stats"
            ) as upstream_process,
            running(
                server, settings, f"http://127.0.0.1:{server_port}/healthz", cwd=Path(folder)
            ) as process,
        ):
            query = arguments.query
            answer = httpx.post(
                url, json={"query": query}, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ).json()
            nodes = answer.get("data", {}).get("activeBusiness", {}).get("participants", {})
            if "errors" in answer or (query == QUERY and len(nodes.get("nodes", [])) != 25):
                raise SystemExit(f"unexpected answer: {str(answer)[:500]}")
            first_passes_completed(database)
            wrk(url, key, arguments.connections, arguments.warmup, query)
            time.sleep(1)
            httpx.post(f"{upstream}/__stats/reset")
            cpu_before = cpu_seconds(process.pid)
            upstream_before = cpu_seconds(upstream_process.pid)
            figures = wrk(url, key, arguments.connections, arguments.duration, query)
            cpu = cpu_seconds(process.pid) - cpu_before
            upstream_cpu = cpu_seconds(upstream_process.pid) - upstream_before
            stats = httpx.get(f"{upstream}/__stats").json()

    requests = figures["requests"]
    seconds = figures["duration_us"] / 1e6
    print(
        f"the document's example query, {arguments.connections} connections, "
        f"{arguments.duration:g} s after a {arguments.warmup:g} s warm-up, "
        f"{'demo' if arguments.demo else 'serve'}, "
        f"upstream latency {arguments.latency_ms} ms, {arguments.workers} server process(es), "
        f"{os.cpu_count()} CPUs shared by wrk, the server and the upstream"
    )
    print(f"requests        {requests:.0f} (non-2xx {figures['non2xx']:.0f})")
    print(f"requests/s      {requests / seconds:.1f}")
    print(
        f"latency         p50 {figures['p50_us'] / 1000:.1f} ms  p90 {figures['p90_us'] / 1000:.1f}"
        f" ms  p99 {figures['p99_us'] / 1000:.1f} ms"
    )
    print(f"server CPU      {cpu / requests * 1000:.2f} ms per request")
    print(f"upstream CPU    {upstream_cpu / requests * 1000:.2f} ms per request")
    print(f"upstream calls  {stats['total'] / requests:.2f} per request")
    for endpoint, count in sorted(stats["endpoints"].items()):
        print(f"  {count / requests:6.2f}  {endpoint}")


if __name__ == "__main__":
    main()
