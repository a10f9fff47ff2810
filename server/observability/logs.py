"""Logging: one event per line, JSON on stderr (text on a terminal), the same for the
server's own lines, uvicorn's and the libraries' (structlog renders the standard library's
records too). Every line written while a request runs carries its `request_id`.

What is logged never holds a secret, a key's secret part, a credential, an email or a
name from the data: the request line names the key by its public id and the business by
its handle; provider failures name the connection, the provider and the status or cause.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog

from server.observability.requests import RequestFacts

REQUEST_LOGGER = "business_api.request"
# Probes and scrapes that succeed would be most of the lines and say nothing.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
FORMATS = ("auto", "json", "text")


def _json(event: Any, **_: Any) -> str:
    return orjson.dumps(event, default=str).decode()


def _shared() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def log_config(form: str = "auto", level: str = "INFO") -> dict[str, Any]:
    """The `logging.config.dictConfig` for the server (uvicorn applies it in each worker):
    every logger through one handler on stderr, rendered as JSON or as text."""
    if form == "auto":
        form = "text" if sys.stderr.isatty() else "json"
    renderer: list[Any] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer(_json)]
        if form == "json"
        else [structlog.dev.ConsoleRenderer(colors=False)]
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *renderer,
                ],
                "foreign_pre_chain": _shared(),
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # The request line below replaces uvicorn's access log.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # The store check's "Context impl SQLiteImpl." on every start and probe.
            "alembic": {"handlers": [], "level": "WARNING", "propagate": True},
            # A line per provider call at INFO: the request line counts them instead.
            "httpx": {"handlers": [], "level": "WARNING", "propagate": True},
            "httpcore": {"handlers": [], "level": "WARNING", "propagate": True},
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
        },
    }


# structlog's own lines go through the standard library too, so that one configuration
# (`log_config`) renders everything; until it is applied they go wherever logging goes.
structlog.configure(
    processors=[*_shared(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
_request_log = structlog.get_logger(REQUEST_LOGGER)


def log_request(facts: RequestFacts) -> None:
    """The request's line: what it asked, who asked, what it cost and how it ended."""
    if facts.path in _QUIET_PATHS and facts.status < 400:
        return
    fields: dict[str, Any] = {
        "method": facts.method,
        "path": facts.path,
        "status": facts.status,
        "duration_ms": round(facts.duration_seconds * 1000, 2),
        "bytes_out": facts.bytes_out,
    }
    if facts.key_id is not None:
        fields["key_id"] = facts.key_id
        fields["business"] = facts.business
    if facts.document_hash is not None:
        fields.update(
            operation_name=facts.operation_name,
            operation_type=facts.operation_type,
            document_hash=facts.document_hash,
            document_cached=facts.document_cached,
            cost_requested=facts.cost_requested,
            cost_actual=facts.cost_actual,
        )
    if facts.upstream_calls:
        fields["upstream_calls"] = dict(facts.upstream_calls)
    if facts.rate_limited:
        fields["rate_limited"] = facts.rate_limited
    if facts.error_codes:
        fields["error_codes"] = facts.error_codes
    level = logging.WARNING if facts.status >= 500 else logging.INFO
    _request_log.log(level, "request", request_id=facts.request_id, **fields)
