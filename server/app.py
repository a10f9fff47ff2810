"""The ASGI application: routes, lifespan and the shared services."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from schema.errors import ErrorCode
from server.http.graphql import admin_graphql, business_graphql
from server.http.health import healthz, readyz
from server.http.internal_errors import InternalErrors
from server.http.landing import landing_page
from server.http.metrics import metrics_page
from server.http.protocol import BoundedHttpProtocol
from server.http.reference import reference_page
from server.http.responses import error_response
from server.observability.logs import log_request
from server.observability.metrics import RequestMetrics, process_ending
from server.observability.requests import Observed
from server.providers.registry import PROVIDERS
from server.providers.spec import ProviderSpec
from server.services import Graph, Services
from server.settings import Settings
from server.workers import HEALTH_CHECK_SECONDS

STATIC_DIR = Path(__file__).resolve().parent / "static"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(
        exc.status_code, ErrorCode.BAD_REQUEST
    )
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, str(exc.detail), code, headers=headers)


def create_app(
    settings: Settings,
    *,
    graph: Graph | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    providers: Sequence[ProviderSpec] = PROVIDERS,
    background_sync: bool = False,
    landing_handle: str | None = None,
) -> Starlette:
    """`graph` is the policy's graph if it was already loaded (the tests load it once);
    `extra_routes` mounts more apps, such as the demo's emulators; `providers` replaces
    the registry; `background_sync` syncs indexed connections every
    `BUSINESS_API_SYNC_INTERVAL`, watches live ones and delivers webhooks (what `serve`
    and `demo` do); `landing_handle` is the
    business whose explorer and reference the landing page `/` links (the demo's)."""
    services = Services.build(settings, providers, graph)
    metrics = RequestMetrics(services.executor.cache, per_business=settings.metrics_per_business)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        retention = timedelta(days=services.settings.change_retention_days)
        background = [
            asyncio.create_task(services.key_use.run()),
            asyncio.create_task(services.watcher.run()),
            asyncio.create_task(
                services.changes.trim_every(retention, also=services.webhooks.trim)
            ),
        ]
        if background_sync:
            every = services.settings.sync_interval_seconds
            background.append(asyncio.create_task(services.sync.run_every(every)))
            background.append(asyncio.create_task(services.webhooks.deliverer.run()))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            # Each ends before the store closes: a task cancelled in the middle of a store
            # query closes its connection on the way out, and a closed engine would leave
            # that close waiting for ever (the process would never exit).
            await asyncio.gather(*background, return_exceptions=True)
            await services.close()
            process_ending()

    routes: list[BaseRoute] = [
        Route("/@{handle}/api/graphql", business_graphql, methods=["GET", "POST"]),
        Route("/@{handle}/api/reference", reference_page, methods=["GET"]),
        Route("/admin/api/graphql", admin_graphql, methods=["POST"]),
        Route("/", landing_page(landing_handle), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
        Mount("/_static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        *extra_routes,
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # Outermost first: every answer, a 500 included, is observed with its request id.
        middleware=[
            Middleware(Observed, observers=[log_request, metrics.record]),
            Middleware(InternalErrors),
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.services = services
    return app


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn must run this app: slow clients cut off, connections bounded, and
    under several workers, a worker slow to start not taken for a hung one."""
    return {
        "http": BoundedHttpProtocol,
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        "limit_concurrency": settings.max_connections,
        "timeout_worker_healthcheck": HEALTH_CHECK_SECONDS,
    }
