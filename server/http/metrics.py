"""`GET /metrics`: the Prometheus metrics, for the operator's scraper only.

Served with `Authorization: Bearer <BUSINESS_API_ADMIN_TOKEN>`, like the operator's
endpoint, and not at all (404) when no admin token is set; a wrong token is refused like a
wrong key (401, and 429 once the address has failed too often). One listener serves both,
so it works unchanged under `serve --workers N`, whose workers share one socket.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from schema.errors import ErrorCode
from server.auth import is_admin
from server.http.health import NO_STORE
from server.http.rate_limits import rate_limited
from server.http.responses import JSON, error_response
from server.limits.rate import Bucket
from server.observability.metrics import IndexedSince, exposition
from server.services import Services
from server.store.availability import StoreUnavailable

log = logging.getLogger(__name__)


async def _refused(request: Request, services: Services) -> Response:
    """401, counted in the same per-address bucket as wrong keys: guessing the admin
    token here is no faster than guessing it at the operator's endpoint."""
    address = request.client.host if request.client else "unknown"
    verdict = await services.rate_limiter.check(
        [Bucket("address", f"auth-failures:{address}", services.settings.auth_failure_limit)]
    )
    if not verdict.allowed:
        return rate_limited(verdict, JSON)
    return error_response(
        401,
        "The metrics need the admin token: send it as `Authorization: Bearer <token>`.",
        ErrorCode.UNAUTHENTICATED,
        headers={"WWW-Authenticate": 'Bearer realm="business-api"'},
    )


async def _indexed(services: Services) -> list[IndexedSince] | None:
    try:
        rows = await services.index.indexed_since()
    except StoreUnavailable:
        return None  # the outage is logged once, by the store
    except (SQLAlchemyError, OSError) as error:
        # The metrics matter most when something is down: answer without the sync lag.
        log.warning("metrics without sync lag: the store did not answer (%s)", type(error).__name__)
        return None
    return [
        IndexedSince(connection, provider, since, watched=mode != "indexed")
        for connection, provider, mode, since in rows
    ]


async def metrics_page(request: Request) -> Response:
    services: Services = request.app.state.services
    admin_token = services.settings.admin_token
    if admin_token is None:
        return error_response(404, "Not found.", ErrorCode.NOT_FOUND)
    if not is_admin(request, str(admin_token)):
        return await _refused(request, services)
    indexed = await _indexed(services)
    outboxes = None
    if indexed is not None:  # the store answered
        try:
            outboxes = await services.webhooks.subscriptions.outboxes()
        except (StoreUnavailable, SQLAlchemyError, OSError):
            outboxes = None
    # Reading every worker's files is blocking I/O: off the event loop.
    body = await asyncio.to_thread(exposition, indexed, datetime.now(UTC), outboxes)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST, **NO_STORE})
