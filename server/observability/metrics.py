"""Prometheus metrics, exposed at `/metrics`: what the server answered, what its providers
cost it, the state of its caches, circuits and indexes.

The metrics belong to the process, as the client library keeps them (module-level, like a
logger): every part of the server counts into the same ones without being handed them.
Under `serve --workers N` each worker writes its samples into `PROMETHEUS_MULTIPROC_DIR`
(the client's multiprocess mode, chosen when the client is first imported) and a scrape,
whichever worker answers it, adds up every worker's files; each gauge says how its
workers' values combine.

Labels are bounded sets: endpoint kinds, HTTP statuses, error codes (a closed list),
rate-limit scopes, provider names, error kinds, and the public ids of connections (one
series per connection whose circuit has opened, or that is indexed). No label carries a
key, a secret, a participant or anything a client chose; a business's handle only in
`business_api_business_requests_total`, which exists only with
`BUSINESS_API_METRICS_PER_BUSINESS`, since businesses are unbounded.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import values as _values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from schema.errors import ErrorCode
from server.observability.requests import RequestFacts

if TYPE_CHECKING:
    from schema.engine.document_cache import DocumentCache

NAMESPACE = "business_api"
# The client decides once, at its import, whether values live in files shared by workers.
MULTIPROCESS = _values.ValueClass is not _values.MutexValue
if MULTIPROCESS and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # The client opens its files from the first metric on: a directory named but not made
    # yet is made, private, rather than failing every command at import.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], mode=0o700, exist_ok=True)
# `_created` series are written in one process only, never in the multiprocess mode: one
# exposition for both.
disable_created_metrics()
REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "requests",
    "Requests answered, by endpoint kind, HTTP status and the first error code (or none).",
    ["endpoint", "status", "code"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
REQUEST_DURATION = Histogram(
    "request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by endpoint kind.",
    ["endpoint"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
OPERATION_COST = Histogram(
    "operation_cost",
    "The price of each priced operation, in cost points (BUSINESS_API_MAX_COST bounds it).",
    namespace=NAMESPACE,
    registry=REGISTRY,
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)
RATE_LIMIT_REFUSALS = Counter(
    "rate_limit_refusals",
    "Requests refused with 429, by the bucket that refused: key, business or address.",
    ["scope"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
BUSINESS_REQUESTS = Counter(
    "business_requests",
    "Requests of each business's keys, by business handle and HTTP status "
    "(only with BUSINESS_API_METRICS_PER_BUSINESS).",
    ["business", "status"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
UPSTREAM_CALLS = Counter(
    "upstream_calls",
    "HTTP requests sent to providers (each retry counts), by provider.",
    ["provider"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
UPSTREAM_ERRORS = Counter(
    "upstream_errors",
    "Provider calls that failed, by provider and kind; circuit_open and budget_spent "
    "are calls refused before anything was sent.",
    ["provider", "kind"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
UPSTREAM_DURATION = Histogram(
    "upstream_duration_seconds",
    "Time each HTTP request to a provider took, until its answer was read or it failed.",
    ["provider"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
CIRCUIT_OPEN = Gauge(
    "circuit_breaker_open",
    "1 while a connection's circuit is open (failing fast) in any worker, 0 once a call "
    "closed it again; connections whose circuit never opened have no series.",
    ["connection", "provider"],
    namespace=NAMESPACE,
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
CHANGE_EVENTS = Counter(
    "change_events",
    "Changes of participants, registrations and purchases logged, by topic and provider.",
    ["topic", "provider"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "webhook_attempts",
    "Webhook delivery attempts, by outcome: delivered, gone (410), redirected, rejected "
    "(another status), or the error (timeout, connect, refused_address, …).",
    ["outcome"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
WEBHOOK_ATTEMPT_SECONDS = Histogram(
    "webhook_attempt_duration_seconds",
    "Time each webhook delivery attempt took, until the receiver's answer was read.",
    namespace=NAMESPACE,
    registry=REGISTRY,
)
DOCUMENT_CACHE_REQUESTS = Counter(
    "document_cache_requests",
    "Lookups in the cache of parsed and checked documents, by result: hit or miss.",
    ["result"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
DOCUMENT_CACHE_ENTRIES = Gauge(
    "document_cache_entries",
    "Documents kept parsed and checked, all workers together.",
    namespace=NAMESPACE,
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DOCUMENT_CACHE_BYTES = Gauge(
    "document_cache_bytes",
    "Memory the kept documents are estimated to take, all workers together.",
    namespace=NAMESPACE,
    registry=REGISTRY,
    multiprocess_mode="livesum",
)

_CODES = frozenset(ErrorCode)
_SCOPES = frozenset({"key", "business", "address"})
_ENDPOINTS = {
    "/admin/api/graphql": "admin",
    "/healthz": "health",
    "/readyz": "health",
    "/metrics": "metrics",
}


def endpoint_of(path: str) -> str:
    """The kind of endpoint a path is: graphql, reference, admin, health, metrics, other."""
    if path.startswith("/@"):
        if path.endswith("/api/graphql"):
            return "graphql"
        if path.endswith("/api/reference"):
            return "reference"
        return "other"
    return _ENDPOINTS.get(path, "other")


class RequestMetrics:
    """The observer of finished requests (`record`). The labelled children it used are
    kept, so a request costs a few dictionary lookups and increments; the document
    cache's own counters are carried over as they move."""

    def __init__(self, documents: DocumentCache, *, per_business: bool = False) -> None:
        self._documents = documents
        self._per_business = per_business
        self._requests: dict[tuple[str, int, str], Any] = {}
        self._durations: dict[str, Any] = {}
        self._refusals: dict[str, Any] = {}
        self._hits = documents.hits
        self._misses = documents.misses
        self._entries = -1
        self._bytes = -1

    def record(self, facts: RequestFacts) -> None:
        endpoint = endpoint_of(facts.path)
        code = facts.error_codes[0] if facts.error_codes else "none"
        if code != "none" and code not in _CODES:
            code = "other"  # never a value the closed list does not name
        key = (endpoint, facts.status, code)
        counted = self._requests.get(key)
        if counted is None:
            counted = self._requests[key] = REQUESTS.labels(endpoint, str(facts.status), code)
        counted.inc()
        timed = self._durations.get(endpoint)
        if timed is None:
            timed = self._durations[endpoint] = REQUEST_DURATION.labels(endpoint)
        timed.observe(facts.duration_seconds)
        if facts.cost_requested is not None:
            OPERATION_COST.observe(facts.cost_requested)
        if facts.rate_limited in _SCOPES:
            scope = facts.rate_limited
            refused = self._refusals.get(scope)
            if refused is None:
                refused = self._refusals[scope] = RATE_LIMIT_REFUSALS.labels(scope)
            refused.inc()
        if self._per_business and facts.business is not None:
            BUSINESS_REQUESTS.labels(facts.business, str(facts.status)).inc()
        self._sample_documents()

    def _sample_documents(self) -> None:
        documents = self._documents
        if documents.hits != self._hits:
            DOCUMENT_CACHE_REQUESTS.labels("hit").inc(documents.hits - self._hits)
            self._hits = documents.hits
        if documents.misses != self._misses:
            DOCUMENT_CACHE_REQUESTS.labels("miss").inc(documents.misses - self._misses)
            self._misses = documents.misses
        entries, size = len(documents), documents.size_bytes
        if entries != self._entries or size != self._bytes:
            DOCUMENT_CACHE_ENTRIES.set(entries)
            DOCUMENT_CACHE_BYTES.set(size)
            self._entries, self._bytes = entries, size


@dataclass(frozen=True)
class UpstreamMetrics:
    """One provider's upstream series, resolved once per provider."""

    provider: str
    calls: Any
    duration: Any

    def failed(self, kind: str) -> None:
        UPSTREAM_ERRORS.labels(self.provider, kind).inc()


@cache
def upstream_metrics(provider: str) -> UpstreamMetrics:
    return UpstreamMetrics(
        provider, UPSTREAM_CALLS.labels(provider), UPSTREAM_DURATION.labels(provider)
    )


def circuit_changed(connection: str, provider: str, *, opened: bool) -> None:
    CIRCUIT_OPEN.labels(connection, provider).set(1 if opened else 0)


def circuit_forgotten(connection: str, provider: str) -> None:
    """The connection's series goes with it (removed, or its business no longer kept)."""
    with contextlib.suppress(KeyError):
        CIRCUIT_OPEN.remove(connection, provider)


@dataclass(frozen=True)
class Outboxed:
    """A webhook subscription's undelivered deliveries: how many, and since when the
    oldest waits."""

    subscription: str
    business: str
    enabled: bool
    pending: int
    oldest: datetime | None


@dataclass(frozen=True)
class IndexedSince:
    """A connection the sync worker passes over, and since when it is complete: its last
    pass that caught up, or when it was added while none has. `watched`: a live
    connection watched for changes (its lag is the watch's), else an indexed one."""

    connection: str
    provider: str
    since: datetime
    watched: bool = False


class _ScrapeTime:
    """What is read when scraped rather than counted: the build, and each indexed
    connection's sync lag (read from the store, so it is the same whichever process
    synced)."""

    def __init__(
        self,
        indexed: Sequence[IndexedSince] | None,
        now: datetime,
        outboxes: Sequence[Outboxed] | None = None,
    ) -> None:
        self._indexed = indexed
        self._now = now
        self._outboxes = outboxes

    def collect(self) -> Iterator[Metric]:
        build = GaugeMetricFamily(
            f"{NAMESPACE}_build_info", "The running version, as a label.", labels=["version"]
        )
        build.add_metric([_version()], 1)
        yield build
        if self._indexed is None:
            return  # the store did not answer: no lag is better than a wrong one
        lag = GaugeMetricFamily(
            f"{NAMESPACE}_sync_lag_seconds",
            "Seconds since each indexed connection's index was last complete (its last "
            "completed sync, or since it was added).",
            labels=["connection", "provider"],
        )
        watch_lag = GaugeMetricFamily(
            f"{NAMESPACE}_watch_lag_seconds",
            "Seconds since each watched live connection's last watch pass that caught up: "
            "changes there show in the change log at most this late.",
            labels=["connection", "provider"],
        )
        for item in self._indexed:
            seconds = max((self._now - item.since).total_seconds(), 0.0)
            family = watch_lag if item.watched else lag
            family.add_metric([item.connection, item.provider], seconds)
        yield lag
        yield watch_lag
        if self._outboxes is not None:
            yield from self._webhooks(self._outboxes)

    def _webhooks(self, outboxes: Sequence[Outboxed]) -> Iterator[Metric]:
        labels = ["subscription", "business"]
        depth = GaugeMetricFamily(
            f"{NAMESPACE}_webhook_outbox_depth",
            "Deliveries of each webhook subscription not yet made.",
            labels=labels,
        )
        oldest = GaugeMetricFamily(
            f"{NAMESPACE}_webhook_outbox_oldest_seconds",
            "Seconds the oldest undelivered delivery of each subscription has waited.",
            labels=labels,
        )
        disabled = GaugeMetricFamily(
            f"{NAMESPACE}_webhook_subscriptions_disabled",
            "Webhook subscriptions disabled (by the operator, a revoked key, a 410 or "
            "failures): `webhooks list` says why.",
        )
        for item in outboxes:
            depth.add_metric([item.subscription, item.business], item.pending)
            waited = 0.0 if item.oldest is None else (self._now - item.oldest).total_seconds()
            oldest.add_metric([item.subscription, item.business], max(waited, 0.0))
        disabled.add_metric([], sum(1 for item in outboxes if not item.enabled))
        yield depth
        yield oldest
        yield disabled


@cache
def _version() -> str:
    try:
        return metadata.version("business-api")
    except metadata.PackageNotFoundError:
        return "unknown"


def exposition(
    indexed: Iterable[IndexedSince] | None,
    now: datetime,
    outboxes: Sequence[Outboxed] | None = None,
) -> bytes:
    """The text a scrape answers: this process's metrics, or every worker's in the
    multiprocess mode, then the scrape-time ones. `indexed` None: the store did not
    answer."""
    if MULTIPROCESS:
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    read = CollectorRegistry(auto_describe=False)
    read.register(_ScrapeTime(None if indexed is None else list(indexed), now, outboxes))
    return generate_latest(counted) + generate_latest(read)


def process_ending() -> None:
    """A worker stops: its samples of gauges that only count live processes go."""
    if MULTIPROCESS:
        mark_process_dead(os.getpid())
