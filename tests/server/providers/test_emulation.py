"""The emulators' own bookkeeping stays bounded: the demo's serve for days."""

from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request

from server.providers.emulated import emulation
from server.providers.emulated.emulation import Emulator, EmulatorError, Endpoint


def _allowed(request: Request) -> None:
    return None


async def test_an_emulator_remembers_the_times_of_its_latest_requests_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(emulation, "SERVED_KEPT", 10)
    emulator = Emulator(
        [Endpoint("GET", "/ping", "ping", lambda request, body: {"ok": True})],
        authenticate=_allowed,
        error=lambda status, message: EmulatorError(status, {"error": message}),
    )
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulated") as client:
        for _ in range(25):
            assert (await client.get("/ping")).status_code == 200

    assert emulator.requests["ping"] == 25
    assert 5 <= len(emulator.served) <= 10
    assert emulator.round_trips == len(emulator.served)  # one after another
