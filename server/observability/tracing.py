"""Trace spans through the OpenTelemetry API: the request, the operation, each loader
batch and each upstream call.

Only the API is a dependency. Without an SDK its tracer is a no-op that records nothing;
with the `tracing` extra installed and `OTEL_EXPORTER_OTLP_ENDPOINT` set, `configure()`
installs the SDK's provider and an OTLP exporter, configured by the standard `OTEL_*`
variables (service name, headers, sampling).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace

from schema.tracing import tracer

if TYPE_CHECKING:
    from server.observability.requests import RequestFacts

log = logging.getLogger(__name__)


@contextmanager
def request_span(facts: RequestFacts) -> Iterator[None]:
    with tracer.start_as_current_span(
        f"{facts.method} {facts.path}", kind=trace.SpanKind.SERVER
    ) as span:
        yield
        if span.is_recording():
            span.set_attributes(
                {
                    "http.request.method": facts.method,
                    "url.path": facts.path,
                    "http.response.status_code": facts.status,
                    "business_api.request_id": facts.request_id,
                    "business_api.key_id": facts.key_id or "",
                    "business_api.error_codes": facts.error_codes,
                }
            )


def configure() -> bool:
    """Export spans over OTLP when asked to (`OTEL_EXPORTER_OTLP_ENDPOINT`) and able to
    (the `tracing` extra); True when spans are exported."""
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the tracing extra is not installed "
            "(pip install 'business-api[tracing]'): no spans are exported"
        )
        return False
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", "business-api")}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True
