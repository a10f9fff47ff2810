"""Spans through the OpenTelemetry API: the request, its operation, each loader batch and
each upstream call, nested as they ran. The SDK is installed here only to record them;
without it the API is a no-op."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from schema.tracing import tracer
from server.observability import tracing
from tests.server.conftest import World

QUERY = """{ activeBusiness { participants(first: 5) { nodes { id
  registrations(first: 3) { nodes { id } } productPurchases(first: 3) { nodes { id } } } } } }"""


def _reset_global_provider() -> None:
    # The API sets its provider once per process; tests put it back (as OpenTelemetry's
    # own test utilities do) so that the rest of the suite runs on the no-op tracer.
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    tracer.proxy._real_tracer = None  # the proxy keeps the provider's tracer once it has one


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _reset_global_provider()
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        _reset_global_provider()


async def test_a_request_is_traced_down_to_each_upstream_call(
    world: World, spans: InMemorySpanExporter
) -> None:
    answered = await world.query(QUERY)
    assert answered.status_code == 200 and "errors" not in answered.json()

    finished = spans.get_finished_spans()
    by_id = {span.context.span_id: span for span in finished}
    [request] = [s for s in finished if s.kind == trace.SpanKind.SERVER]
    assert request.name == "POST /@tremble/api/graphql"
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["business_api.request_id"] == answered.headers["x-request-id"]
    [operation] = [s for s in finished if s.name == "operation"]
    assert operation.parent.span_id == request.context.span_id
    batches = {s.name: s for s in finished if s.name.startswith("batch ")}
    assert {"batch registrations", "batch purchases"} <= set(batches)
    assert all(by_id[b.parent.span_id] is operation for b in batches.values())
    calls = [s for s in finished if s.kind == trace.SpanKind.CLIENT]
    assert len(calls) == sum(world.upstream_calls().values())
    for call in calls:  # each under the request, through the batch that made it
        ancestor = by_id[call.parent.span_id]
        while ancestor.parent is not None:
            ancestor = by_id[ancestor.parent.span_id]
        assert ancestor is request


async def test_without_an_sdk_the_tracer_records_nothing(world: World) -> None:
    assert not tracer.start_span("probe").is_recording()
    answered = await world.query(QUERY)
    assert answered.status_code == 200


def test_asking_for_export_without_the_extra_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    with caplog.at_level(logging.WARNING):
        exported = tracing.configure()
    assert exported is False  # the OTLP exporter is not installed with the test extra
    assert "pip install 'business-api[tracing]'" in caplog.text
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert tracing.configure() is False
