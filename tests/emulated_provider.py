"""A provider's emulator in a process of its own, for tests that need real processes:

    python -m tests.emulated_provider sessions PORT KEY [LIMIT WINDOW]

`GET /__stats` answers the requests counted per endpoint and how many arrived while the
rate limit's window was already full."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route


def build(provider: str, key: str, limit: int | None, window: float | None) -> Starlette:
    if provider != "sessions":
        raise SystemExit(f"no emulator process for {provider!r}")
    from server.providers.sessions.emulated.dataset import generate_dataset
    from server.providers.sessions.emulated.emulator import create_emulator

    rate_limit = (limit, window) if limit and window else None
    emulator = create_emulator(
        generate_dataset(seed=9, size=60), api_key=key, rate_limit=rate_limit
    )

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "requests": dict(emulator.requests),
                "into_full_window": emulator.into_full_window,
                "sessions": len(emulator.dataset.sessions),
            }
        )

    return Starlette(routes=[Route("/__stats", stats), Mount("/", app=emulator.app)])


if __name__ == "__main__":
    name, port, key, *rest = sys.argv[1:]
    limit, window = (int(rest[0]), float(rest[1])) if rest else (None, None)
    uvicorn.run(
        build(name, key, limit, window), host="127.0.0.1", port=int(port), log_level="warning"
    )
