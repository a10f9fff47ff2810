"""`/healthz`: the process answers (for a restart policy). `/readyz`: it can serve
requests now (for a load balancer): the store answers at this version's schema, Redis
answers when the rate limits live there, and the policy is loaded."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.services import Services
from server.store.readiness import StoreNotReady, check_store

NO_STORE = {"Cache-Control": "no-store"}


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    checks: dict[str, str] = {"policy": "ok"}  # the app is not built without a valid policy
    try:
        await check_store(services.engine)
        checks["store"] = "ok"
    except StoreNotReady as error:
        checks["store"] = str(error)
    if services.settings.redis_url:
        checks["redis"] = await services.rate_limiter.problem() or "ok"
    ready = all(state == "ok" for state in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers=NO_STORE,
    )
