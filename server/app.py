"""The ASGI application: routes, lifespan and the shared services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from schema.errors import ErrorCode
from server.http.graphql import admin_graphql, business_graphql
from server.http.reference import reference_page
from server.http.responses import error_response
from server.services import Services
from server.settings import Settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(
        exc.status_code, ErrorCode.BAD_REQUEST
    )
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, str(exc.detail), code, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(500, "Internal server error.", ErrorCode.INTERNAL_SERVER_ERROR)


def create_app(
    settings: Settings,
    *,
    upstream: httpx.AsyncBaseTransport | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """`upstream` replaces the transport of provider calls (tests route it to emulators);
    `extra_routes` mounts more apps, such as the demo's emulators."""
    services = Services.build(settings, upstream)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        recorder = asyncio.create_task(services.key_use.run())
        try:
            yield
        finally:
            recorder.cancel()
            await services.close()

    routes: list[BaseRoute] = [
        Route("/@{handle}/api/graphql", business_graphql, methods=["GET", "POST"]),
        Route("/@{handle}/api/reference", reference_page, methods=["GET"]),
        Route("/admin/api/graphql", admin_graphql, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Mount("/_static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        *extra_routes,
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.services = services
    return app
