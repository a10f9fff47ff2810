"""Provider calls through the HTTP proxy the environment names, as requests and httpx do.

`HTTPS_PROXY` sends https providers through a CONNECT tunnel (TLS to the provider inside
it), `HTTP_PROXY` sends http providers' requests in absolute form, user and password in
the URL become `Proxy-Authorization: Basic` for the proxy alone, `NO_PROXY` lists what is
reached directly (loopback included: it is not bypassed unless listed), a kept connection
through a tunnel is reused only for the same target, and the proxy's answer to CONNECT is
bounded like any head. A proxy URL the transport cannot use stops the server at start-up
with one line naming the variable.

The proxy is `tests/connect_proxy.py` (threaded, counting tunnels and what it forwarded);
the providers are raw providers (`tests/raw_provider.py`), over TLS from the tests' private
CA where https. The environment is handed to the transport (`environ=`), except where the
server's start-up reads the process's own (monkeypatched).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.app import create_app
from server.cli import main
from server.providers.errors import ProviderUnreachable
from server.providers.http import ProviderHttp, UpstreamLimits
from server.providers.http1 import Http1Transport
from server.services import Graph
from server.settings import SettingsError
from tests.connect_proxy import ConnectProxy
from tests.raw_provider import (
    Hang,
    RawProvider,
    RawProviders,
    ReadRequest,
    Repeat,
    Send,
    Stream,
    Tls,
    generated,
    raw_provider,
)
from tests.server.conftest import settings_for

__all__ = ["raw_provider"]

BODY = b'{"ok": true}'
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
HONEST = (Repeat((ReadRequest(), Send(ANSWER))),)
FLOOD = 64 * 1024 * 1024


def http(transport: Http1Transport, provider: RawProvider) -> ProviderHttp:
    return ProviderHttp(
        transport,
        provider="wix",
        base_url=provider.url,
        headers={"Authorization": "provider-key"},
        limits=UpstreamLimits(timeout_seconds=5.0, attempts=1),
        connection="conn_proxied",
    )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def lines(provider: RawProvider) -> list[bytes]:
    """The request lines the provider read, in order."""
    return [request.split(b"\r\n")[0] for request in provider.requests]


async def test_an_https_provider_is_reached_through_a_connect_tunnel_from_https_proxy(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider(HONEST, tls=Tls.trusted())
    with ConnectProxy() as proxy:
        transport = Http1Transport(tls=provider.client_context, environ={"HTTPS_PROXY": proxy.url})
        client = http(transport, provider)
        for _ in range(3):
            assert await client.get("/x", dict) == {"ok": True}
        await transport.close()
    assert proxy.tunnels == [f"127.0.0.1:{provider.port}"]  # one tunnel, kept and reused
    assert lines(provider) == [b"GET /x HTTP/1.1"] * 3
    assert len(provider.connections) == 1


async def test_credentials_in_the_proxy_url_go_to_the_proxy_alone_as_basic_auth(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider(HONEST, tls=Tls.trusted())
    with ConnectProxy(user="ops team", password="p@ss:w/rd") as proxy:
        transport = Http1Transport(tls=provider.client_context, environ={"https_proxy": proxy.url})
        assert await http(transport, provider).get("/x", dict) == {"ok": True}
        await transport.close()
    assert proxy.authorizations == [basic("ops team", "p@ss:w/rd")]
    assert proxy.refused == 0
    assert not any(b"proxy-authorization" in r.lower() for r in provider.requests)


async def test_a_proxy_refusing_the_credentials_leaves_the_provider_unreachable_saying_so(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider(HONEST, tls=Tls.trusted())
    with ConnectProxy(user="ops", password="right") as proxy:
        transport = Http1Transport(
            tls=provider.client_context, environ={"HTTPS_PROXY": proxy.url_with("ops", "wrong")}
        )
        with pytest.raises(ProviderUnreachable) as raised:
            await http(transport, provider).get("/x", dict)
        await transport.close()
    assert raised.value.reason == f"the proxy 127.0.0.1:{proxy.port} refused the tunnel (HTTP 407)"
    assert proxy.refused == 1
    assert provider.connections == []


async def test_an_unreachable_proxy_is_named_in_the_reason(raw_provider: RawProviders) -> None:
    provider = raw_provider(HONEST, tls=Tls.trusted())
    closed = ConnectProxy()
    closed.stop()  # nothing listens on its port any more
    transport = Http1Transport(tls=provider.client_context, environ={"HTTPS_PROXY": closed.url})
    with pytest.raises(ProviderUnreachable) as raised:
        await http(transport, provider).get("/x", dict)
    await transport.close()
    assert raised.value.reason == (
        f"the proxy 127.0.0.1:{closed.port} was not reached: connection refused"
    )


async def test_an_http_provider_is_reached_through_http_proxy_in_absolute_form(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider(HONEST)
    with ConnectProxy(user="ops", password="secret") as proxy:
        environ = {"HTTP_PROXY": proxy.url, "HTTPS_PROXY": "http://127.0.0.1:9"}
        transport = Http1Transport(environ=environ)
        client = http(transport, provider)
        for _ in range(2):
            assert await client.get("/x", dict) == {"ok": True}
        await transport.close()
    absolute = f"GET http://127.0.0.1:{provider.port}/x HTTP/1.1"
    assert lines(provider) == [absolute.encode()] * 2
    assert proxy.forwarded == [absolute]  # one connection to the proxy, kept
    assert proxy.tunnels == []
    assert proxy.authorizations == [basic("ops", "secret")]


async def test_an_http_proxy_refusing_the_credentials_is_named_in_the_reason(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider(HONEST)
    with ConnectProxy(user="ops", password="right") as proxy:
        transport = Http1Transport(environ={"HTTP_PROXY": proxy.url_with("ops", "wrong")})
        with pytest.raises(ProviderUnreachable) as raised:
            await http(transport, provider).get("/x", dict)
        await transport.close()
    assert raised.value.reason == f"the proxy 127.0.0.1:{proxy.port} refused the request (HTTP 407)"
    assert provider.connections == []


@pytest.mark.parametrize(
    "no_proxy",
    ["127.0.0.1", "example.com, 127.0.0.1:{port}", "*", ".0.0.1", "LOCALHOST,127.0.0.1"],
)
async def test_no_proxy_lists_the_hosts_reached_directly(
    raw_provider: RawProviders, no_proxy: str
) -> None:
    provider = raw_provider(HONEST, tls=Tls.trusted())
    with ConnectProxy() as proxy:
        environ = {"HTTPS_PROXY": proxy.url, "NO_PROXY": no_proxy.format(port=provider.port)}
        transport = Http1Transport(tls=provider.client_context, environ=environ)
        assert await http(transport, provider).get("/x", dict) == {"ok": True}
        await transport.close()
    assert proxy.tunnels == []


@pytest.mark.parametrize("no_proxy", ["", "example.com", "127.0.0.2", "127.0.0.1:1"])
async def test_a_loopback_provider_goes_through_the_proxy_unless_no_proxy_lists_it(
    raw_provider: RawProviders, no_proxy: str
) -> None:
    provider = raw_provider(HONEST, tls=Tls.trusted())
    with ConnectProxy() as proxy:
        environ = {"HTTPS_PROXY": proxy.url, "NO_PROXY": no_proxy}
        transport = Http1Transport(tls=provider.client_context, environ=environ)
        assert await http(transport, provider).get("/x", dict) == {"ok": True}
        await transport.close()
    assert proxy.tunnels == [f"127.0.0.1:{provider.port}"]


async def test_a_tunnel_is_reused_only_for_its_own_target(raw_provider: RawProviders) -> None:
    first = raw_provider(HONEST, tls=Tls.trusted())
    second = raw_provider(HONEST, tls=Tls.trusted())
    with ConnectProxy() as proxy:
        transport = Http1Transport(tls=first.client_context, environ={"HTTPS_PROXY": proxy.url})
        clients = [http(transport, first), http(transport, second)]
        for client in clients + clients + clients:
            assert await client.get("/x", dict) == {"ok": True}
        await transport.close()
    assert sorted(proxy.tunnels) == sorted(f"127.0.0.1:{p.port}" for p in (first, second))
    assert [len(p.connections) for p in (first, second)] == [1, 1]
    assert [len(p.requests) for p in (first, second)] == [3, 3]


async def test_the_proxy_s_answer_to_connect_is_bounded_like_any_head(
    raw_provider: RawProviders,
) -> None:
    """A "proxy" (a raw provider) answering CONNECT with a head that never ends."""
    provider = raw_provider(HONEST, tls=Tls.trusted())
    endless = raw_provider(
        (
            ReadRequest(),
            Send(b"HTTP/1.1 200 Connection established\r\n"),
            Stream(generated(lambda n: b"X-Endless-%d: %s\r\n" % (n, b"v" * 64)), FLOOD),
            Hang(),
        )
    )
    transport = Http1Transport(
        tls=provider.client_context, environ={"HTTPS_PROXY": f"http://127.0.0.1:{endless.port}"}
    )
    with pytest.raises(ProviderUnreachable) as raised:
        await http(transport, provider).get("/x", dict)
    await transport.close()
    assert "proxy's answer" in raised.value.reason
    assert endless.requests[0].startswith(f"CONNECT 127.0.0.1:{provider.port} HTTP/1.1".encode())
    assert endless.sent < FLOOD // 4
    assert provider.connections == []


REFUSED = {
    "socks": ("HTTPS_PROXY", "socks5://ops:secret@127.0.0.1:1080"),
    "an https proxy": ("https_proxy", "https://ops:secret@proxy.internal:3128"),
    "no scheme": ("HTTP_PROXY", "proxy.internal:3128"),
}


@pytest.mark.parametrize(("variable", "url"), REFUSED.values(), ids=REFUSED.keys())
def test_a_proxy_url_that_is_not_http_is_refused_naming_the_variable_and_nothing_secret(
    variable: str, url: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Http1Transport(environ={variable: url})
    message = str(raised.value)
    assert message.startswith(f"{variable} must be an http:// proxy URL")
    assert "\n" not in message and "secret" not in message


def test_the_server_refuses_to_start_with_a_proxy_url_it_cannot_use(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    migrated_store: Path,
    graph_of: Callable[[Path], Graph],
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://ops:secret@127.0.0.1:1080")
    settings = settings_for(tmp_path)
    with pytest.raises(SettingsError, match="^HTTPS_PROXY must be an http:// proxy URL"):
        create_app(settings, graph=graph_of(settings.policy_path))


def test_serve_stops_with_one_line_naming_the_proxy_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, migrated_store: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {
        "BUSINESS_API_SECRET_KEY": "test-secret-key-0123456789abcdef",
        "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{migrated_store}",
        "HTTPS_PROXY": "socks5://ops:secret@127.0.0.1:1080",
    }
    for workers in ("1", "2"):
        result = CliRunner(env=environ).invoke(main, ["serve", "--port", "0", "--workers", workers])
        assert result.exit_code == 1, result.output
        refusal = result.stderr.strip().splitlines()
        assert len(refusal) == 1, result.stderr
        assert refusal[0].startswith("Error: HTTPS_PROXY must be an http:// proxy URL")
        assert "secret" not in result.stderr
