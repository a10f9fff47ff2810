"""`business-api serve`: uvicorn over the app, in one process or several.

Every worker builds its app through `app_from_environ`, the import-string factory
uvicorn needs to start worker processes, so one process and many are configured alike.
"""

from __future__ import annotations

import gc
from typing import Any

import uvicorn
from starlette.applications import Starlette

from server.app import create_app, uvicorn_options
from server.services import load_checked_policy
from server.settings import Settings, SettingsError

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


def app_from_environ() -> Starlette:
    app = create_app(Settings.from_environ(), background_sync=True)
    settle_heap()
    return app


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Raises SettingsError or PolicyError before serving anything. Several workers each
    read the same environment again, through `app_from_environ`."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        **uvicorn_options(settings),
    }
    if workers == 1:
        app = create_app(settings, background_sync=True)
        settle_heap()
        uvicorn.run(app, **options)
        return
    if not settings.redis_url:
        raise SettingsError(
            "--workers needs BUSINESS_API_REDIS_URL: each process would otherwise keep its "
            "own rate limits, and a key would get the limit once per process."
        )
    load_checked_policy(settings)  # a defect stops the command, not each worker in turn
    uvicorn.run("server.serving:app_from_environ", factory=True, workers=workers, **options)
