"""The one OpenTelemetry tracer of the graph and the server (a no-op until an SDK is
installed and configured: see server/observability/tracing.py).

Until a tracer provider is set, a span costs nothing: the API's own no-op tracer still
enters two context managers and sets a context variable for each span (about 5 µs, and a
request makes a dozen spans), so this tracer hands out one shared empty span instead.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import trace

_NO_SPAN = nullcontext(trace.INVALID_SPAN)


class Tracer:
    def __init__(self, name: str) -> None:
        self.proxy = trace.get_tracer(name)  # follows the provider once one is set

    def start_as_current_span(self, name: str, **options: Any) -> AbstractContextManager[Any]:
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            return _NO_SPAN
        return self.proxy.start_as_current_span(name, **options)

    def start_span(self, name: str, **options: Any) -> trace.Span:
        return self.proxy.start_span(name, **options)


tracer = Tracer("business-api")
