"""Every request `ProviderHttp` sends is counted by provider (in the metrics and in the
facts of the request that caused it), timed, traced as a client span naming the provider
and the connection, and each failure is counted under its kind."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

import server.providers.http as provider_http
from server.observability.metrics import REGISTRY
from server.observability.requests import Observed, RequestFacts
from server.providers.errors import ProviderError
from server.providers.http import ProviderHttp, UpstreamLimits
from server.providers.http1 import Http1Transport
from tests.upstream import SocketUpstream

PROVIDER = "observed-provider"  # a name of its own: no other test moves its series


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"provider": PROVIDER, **labels}) or 0.0


Answering = Callable[[Iterator[Response]], str]  # the answers, in turn -> a base URL


@pytest.fixture
async def answering(upstream: SocketUpstream) -> AsyncIterator[Answering]:
    """A provider on the session's socket that gives the answers it is handed, in turn."""
    mounted: list[str] = []

    def serve(answers: Iterator[Response]) -> str:
        async def provider(scope: Scope, receive: Receive, send: Send) -> None:
            await next(answers)(scope, receive, send)

        mounted.append(upstream.mount(provider, "answering"))
        return mounted[-1]

    yield serve
    for base_url in mounted:
        upstream.unmount(base_url)


def _http(transport: Http1Transport, base_url: str, attempts: int) -> ProviderHttp:
    return ProviderHttp(
        transport,
        provider=PROVIDER,
        base_url=base_url,
        headers={"Authorization": "Bearer provider-credential"},
        limits=UpstreamLimits(attempts=attempts, longest_wait=0.01),
        connection="conn_observed",
    )


async def test_each_request_sent_is_counted_timed_and_traced_with_its_connection(
    monkeypatch: pytest.MonkeyPatch, answering: Answering
) -> None:
    exporter = InMemorySpanExporter()
    spans = TracerProvider()
    spans.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(provider_http, "tracer", spans.get_tracer("test"))
    answers = iter([Response(status_code=503), Response(b'{"ok": true}', 200)])
    transport = Http1Transport()
    http = _http(transport, answering(answers), attempts=2)
    seen: list[RequestFacts] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert await http.get("/contacts", dict) == {"ok": True}
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    calls = _sample("business_api_upstream_calls_total")
    errors = _sample("business_api_upstream_errors_total", kind="unavailable")
    timed = _sample("business_api_upstream_duration_seconds_count")
    observed = Observed(app, observers=[seen.append])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=observed)) as client:
        await client.get("http://server.test/")

    [facts] = seen
    assert dict(facts.upstream_calls) == {PROVIDER: 2}  # the retry is a request too
    assert _sample("business_api_upstream_calls_total") - calls == 2
    assert _sample("business_api_upstream_errors_total", kind="unavailable") - errors == 1
    assert _sample("business_api_upstream_duration_seconds_count") - timed == 2
    traced = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.CLIENT]
    assert [span.name for span in traced] == [f"upstream {PROVIDER}"] * 2
    assert [span.attributes["http.response.status_code"] for span in traced] == [503, 200]
    for span in traced:
        assert span.attributes["business_api.provider"] == PROVIDER
        assert span.attributes["business_api.connection"] == "conn_observed"
        assert "provider-credential" not in str(dict(span.attributes))
    assert [span.status.status_code for span in traced] == [StatusCode.ERROR, StatusCode.UNSET]
    await transport.close()


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (Response(status_code=401), "rejected"),
        (Response(status_code=404), "not_found"),
        (Response(status_code=429, headers={"Retry-After": "60"}), "throttled"),
        (Response(b"<html>", 200), "invalid_response"),
    ],
    ids=["rejected", "not found", "throttled", "not json"],
)
async def test_a_failure_is_counted_under_its_kind(
    answering: Answering, answer: Response, kind: str
) -> None:
    transport = Http1Transport()
    http = _http(transport, answering(iter([answer])), attempts=1)
    before = _sample("business_api_upstream_errors_total", kind=kind)
    with pytest.raises(ProviderError):
        await http.get("/contacts", dict)
    assert _sample("business_api_upstream_errors_total", kind=kind) - before == 1
    await transport.close()
