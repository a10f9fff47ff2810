"""`business-api serve`: uvicorn over the app, in one process or several.

Every worker builds its app through `app_from_environ`, the import-string factory
uvicorn needs to start worker processes, so one process and many are configured alike.
"""

from __future__ import annotations

import asyncio
import gc
import logging.config
import os
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from server.app import create_app, uvicorn_options
from server.observability import tracing
from server.observability.logs import log_config
from server.observability.metrics_dir import shared_metrics
from server.providers.proxy import Proxies
from server.services import load_graph
from server.settings import Settings, SettingsError
from server.store.database import create_engine, migrate
from server.store.readiness import check_store
from server.workers import run_workers

# The collector's first generation is collected after this many new container objects.
# A request writes some 20,000 (dicts, lists, the graph's objects), nearly all freed by
# reference counting when it ends; at the default (700) the collector ran dozens of times
# per request, each time also walking what those objects point to. Measured with
# benchmarks/requests.py, with the start-up heap frozen below: about 10 % of the CPU of a
# request (see the README).
_FIRST_GENERATION = 20_000


def settle_heap() -> None:
    """Take what start-up built (modules, the schema, the policy) out of the collector's
    sight: it lives as long as the process, and the collector would walk it again at
    every full collection."""
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(_FIRST_GENERATION, second, third)


def configure_logging(settings: Settings) -> None:
    """Every logger (the server's, uvicorn's, the libraries') through one structured
    handler on stderr (server/observability/logs.py), and trace spans exported when the
    environment asks for it (server/observability/tracing.py)."""
    logging.config.dictConfig(log_config(settings.log_format, settings.log_level.upper()))
    tracing.configure()


def app_from_environ() -> Starlette:
    settings = Settings.from_environ()
    configure_logging(settings)  # each worker process configures its own
    app = create_app(settings, background_sync=True)
    settle_heap()
    return app


async def prepare_store(settings: Settings, *, migrate_first: bool) -> None:
    """Refuse to serve a store that is not at this version's schema (StoreNotReady says
    to migrate), or bring it there first."""
    engine = create_engine(settings.database_url)
    try:
        if migrate_first:
            await migrate(engine)
        await check_store(engine)
    finally:
        await engine.dispose()


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    migrate_first: bool = False,
    tls: tuple[Path, Path] | None = None,
) -> None:
    """Raises SettingsError, PolicyError or StoreNotReady before serving anything. Several
    workers each read the same environment again, through `app_from_environ`. `tls`: a
    certificate and its key, to serve HTTPS."""
    Proxies.from_environ(os.environ)  # a proxy variable it cannot use stops it first
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level,
        "log_config": None,  # configure_logging below; uvicorn keeps its hands off
        **uvicorn_options(settings),
    }
    if tls is not None:
        options["ssl_certfile"], options["ssl_keyfile"] = str(tls[0]), str(tls[1])
    configure_logging(settings)
    asyncio.run(prepare_store(settings, migrate_first=migrate_first))
    if workers == 1:
        app = create_app(settings, background_sync=True)
        settle_heap()
        with shared_metrics(workers):
            uvicorn.run(app, **options)
        return
    if not settings.redis_url:
        raise SettingsError(
            "--workers needs BUSINESS_API_REDIS_URL: each process would otherwise keep its "
            "own rate limits, and a key would get the limit once per process."
        )
    load_graph(settings.policy_path)  # a defect stops the command, not each worker in turn
    with shared_metrics(workers):  # before the workers start: they inherit the variable
        run_workers(
            uvicorn.Config(
                "server.serving:app_from_environ", factory=True, workers=workers, **options
            )
        )
