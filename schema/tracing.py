"""The one OpenTelemetry tracer of the graph and the server (a no-op until an SDK is
installed and configured: see server/observability/tracing.py)."""

from opentelemetry import trace

tracer = trace.get_tracer("business-api")
