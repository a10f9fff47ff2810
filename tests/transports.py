"""Provider traffic in the tests goes through the transport production runs.

Every `ProviderHttp` a test builds, directly or through the server's services, is
recorded with the type of its transport; after the test, any transport other than
`Http1Transport` fails it, unless its module is listed below with the reason it needs
another one. `tests/test_transports.py` checks the list itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.providers.http import ProviderHttp
from server.providers.http1 import Http1Transport

TESTS = Path(__file__).resolve().parent

# Module (relative to tests/) -> why its provider calls may use another transport.
OTHER_TRANSPORTS: dict[str, str] = {
    "server/providers/test_conformance.py": (
        "runs every hostile answer through a kept client (httpx) as well as through the "
        "production transport: the kept client is the reference for what correct looks like"
    ),
    "test_transports.py": (
        "builds a provider client over a stray transport on purpose, to prove that the "
        "check fails a test that does"
    ),
}


def record_transports(monkeypatch: pytest.MonkeyPatch) -> list[type]:
    """The transport types of every `ProviderHttp` built from now on (until the
    monkeypatch is undone)."""
    used: list[type] = []
    original = ProviderHttp.__init__

    def recording(self: ProviderHttp, transport: Any, **kwargs: Any) -> None:
        used.append(type(transport))
        original(self, transport, **kwargs)

    monkeypatch.setattr(ProviderHttp, "__init__", recording)
    return used


def check_transports(test_file: Path, used: list[type]) -> None:
    others = sorted({t.__qualname__ for t in used if t is not Http1Transport})
    if not others:
        return
    module = Path(test_file).resolve().relative_to(TESTS).as_posix()
    if module in OTHER_TRANSPORTS:
        return
    pytest.fail(
        f"provider calls in {module} went through {', '.join(others)}, not the production "
        "transport (Http1Transport): serve the provider on a socket (the `upstream` "
        "fixture), or list the module in tests/transports.py with the reason",
        pytrace=False,
    )
