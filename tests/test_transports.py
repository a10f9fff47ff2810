"""Provider traffic in the tests goes through the production transport: the check that
makes it so (`tests/transports.py`) fails a test that strays, and its list of exceptions
names only modules that exist and need one."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from server.providers.http import ProviderHttp, UpstreamLimits
from server.providers.http1 import Http1Transport
from server.services import Services
from tests.server.conftest import settings_for
from tests.transports import OTHER_TRANSPORTS, TESTS, check_transports, record_transports


class InProcessTransport:
    """Any transport but the production one."""

    async def send(self, *args: object) -> None:
        raise AssertionError("not called")

    async def close(self) -> None:
        pass


def _build(transport: object) -> None:
    ProviderHttp(
        transport,  # type: ignore[arg-type]
        provider="wix",
        base_url="http://127.0.0.1:9",
        headers={},
        limits=UpstreamLimits(),
    )


def test_a_provider_call_through_another_transport_fails_a_test_outside_the_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used = record_transports(monkeypatch)
    _build(InProcessTransport())
    with pytest.raises(pytest.fail.Exception, match="not the production transport"):
        check_transports(TESTS / "server" / "test_business_api.py", used)
    listed = next(iter(OTHER_TRANSPORTS))
    check_transports(TESTS / listed, used)  # a listed module may


def test_the_production_transport_passes_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    used = record_transports(monkeypatch)
    _build(Http1Transport())
    check_transports(TESTS / "server" / "test_business_api.py", used)
    assert used == [Http1Transport]


@pytest.mark.parametrize("module", sorted(OTHER_TRANSPORTS))
def test_every_listed_module_exists_says_why_and_uses_another_transport(module: str) -> None:
    path = TESTS / module
    assert path.is_file(), f"{module} is listed in tests/transports.py but does not exist"
    assert len(OTHER_TRANSPORTS[module].split()) >= 8, "the reason is a sentence"
    assert "ProviderHttp(" in path.read_text(), f"{module} builds no ProviderHttp of its own"


async def test_the_services_always_send_through_http1(tmp_path: Path) -> None:
    """No argument of `Services.build` swaps the transport: tests cannot, production
    does not."""
    assert "transport" not in inspect.signature(Services.build).parameters
    assert "upstream" not in inspect.signature(Services.build).parameters
    services = Services.build(settings_for(tmp_path))
    try:
        assert type(services.upstream) is Http1Transport
    finally:
        await services.close()


def test_the_check_watches_every_test() -> None:
    """The autouse fixture of `tests/conftest.py` has wrapped the client for this test,
    as it does for every test."""
    assert ProviderHttp.__init__.__qualname__.endswith("record_transports.<locals>.recording")
