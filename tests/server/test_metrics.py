"""`/metrics`: a scripted set of requests moves exactly the counters it should (requests by
status and code, rate-limit refusals by scope, upstream calls by provider), in one process
and under `serve --workers 2`; the scrape is the operator's alone, and no label carries a
key, a participant or a business unless asked to."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from schema.engine.document_cache import DocumentCache
from server.observability.metrics import RequestMetrics, exposition
from server.observability.requests import RequestFacts
from server.settings import Settings, SettingsError
from tests.live import running_server, store_with_business
from tests.server.conftest import World

ADMIN = {"Authorization": "Bearer admin-token-for-tests-0123456789abcdef"}
NAMES = "{ activeBusiness { name participants(first: 5) { nodes { id name } } } }"
EMAILS = "{ activeBusiness { participants(first: 5) { nodes { email } } } }"
PLAIN = "{ activeBusiness { name } }"
# The script's rate limits: two requests a minute per key, three per business.
TIGHT_LIMITS = {"key_rate_limit": 2, "business_rate_limit": 3}
COOL_DOWN = 2.0  # long enough to scrape and fail fast in, on a busy machine

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parsed(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **fixed: str) -> dict[frozenset, float]:
    """The samples of `name` (with the `fixed` labels) that changed, by their other labels."""
    changes = {}
    for (sample, labels), now in after.items():
        if sample != name or not set(fixed.items()) <= labels:
            continue
        delta = now - before.get((sample, labels), 0.0)
        if delta:
            changes[frozenset(labels - set(fixed.items()))] = delta
    return changes


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


async def scrape(world: World) -> tuple[str, Samples]:
    answered = await world.client.get("/metrics", headers=ADMIN)
    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("text/plain; version=")
    return answered.text, parsed(answered.text)


@pytest.mark.parametrize("setting_overrides", [TIGHT_LIMITS])
async def test_a_scripted_set_of_requests_moves_the_counters_by_exactly_what_happened(
    world: World,
) -> None:
    world.reset_counts()
    _, before = await scrape(world)

    good = await world.query(NAMES)
    assert good.status_code == 200 and "errors" not in good.json()
    forbidden = await world.query(EMAILS, key="tremble-no-email")
    assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await world.query(PLAIN, key="sk_000000000000_notakey")).status_code == 401
    answered_before_fault = world.emulator().total_requests
    world.emulator().faults.status = 500
    failing = await world.query(NAMES)
    assert failing.json()["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    failed_calls = world.emulator().total_requests - answered_before_fault
    world.emulator().faults.status = None
    over_business = await world.query(PLAIN, key="tremble-no-email")  # the business's 4th
    assert over_business.json()["errors"][0]["extensions"]["scope"] == "business"
    for _ in range(2):
        assert (await world.query(PLAIN, key="acme", handle="acme")).status_code == 200
    over_key = await world.query(PLAIN, key="acme", handle="acme")  # the key's 3rd
    assert over_key.json()["errors"][0]["extensions"]["scope"] == "key"

    _, after = await scrape(world)
    assert moved(before, after, "business_api_requests_total", endpoint="graphql") == {
        labels(status="200", code="none"): 3,
        labels(status="200", code="FORBIDDEN"): 1,
        labels(status="401", code="UNAUTHENTICATED"): 1,
        labels(status="200", code="UPSTREAM_UNAVAILABLE"): 1,
        labels(status="429", code="RATE_LIMITED"): 2,
    }
    assert moved(before, after, "business_api_rate_limit_refusals_total") == {
        labels(scope="business"): 1,
        labels(scope="key"): 1,
    }
    sent = sum(emulator.total_requests for emulator in world.emulators.values())
    assert failed_calls >= 1 and sent > failed_calls
    assert moved(before, after, "business_api_upstream_calls_total") == {
        labels(provider="wix"): sent
    }
    assert moved(before, after, "business_api_upstream_errors_total") == {
        labels(provider="wix", kind="unavailable"): failed_calls
    }
    assert moved(before, after, "business_api_upstream_duration_seconds_count") == {
        labels(provider="wix"): sent
    }
    assert moved(before, after, "business_api_request_duration_seconds_count") == {
        labels(endpoint="graphql"): 8,
        labels(endpoint="metrics"): 1,  # the first scrape, counted once it had answered
    }


async def test_the_exposition_names_no_key_participant_or_business(world: World) -> None:
    answered = await world.query(NAMES.replace("id name", "id name email"))
    people = answered.json()["data"]["activeBusiness"]["participants"]["nodes"]
    await world.query(PLAIN, key="sk_000000000000_notakey")
    text, _ = await scrape(world)

    secrets = [*world.keys.values(), ADMIN["Authorization"].split()[1], "wix-key-t"]
    secrets += [key.rpartition("_")[2] for key in world.keys.values()]
    for leaked in [*secrets, *(p["name"] for p in people), *(p["email"] for p in people)]:
        assert leaked not in text
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", text)  # no email address of any kind
    assert "tremble" not in text and "acme" not in text  # per-business labels are off


@pytest.mark.parametrize("setting_overrides", [{"metrics_per_business": True}])
async def test_per_business_counts_are_there_only_when_asked_for(world: World) -> None:
    _, before = await scrape(world)
    await world.query(PLAIN)
    await world.query(PLAIN, key="acme", handle="acme")
    _, after = await scrape(world)
    assert moved(before, after, "business_api_business_requests_total") == {
        labels(business="tremble", status="200"): 1,
        labels(business="acme", status="200"): 1,
    }


async def test_the_metrics_are_refused_without_the_admin_token(world: World) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-admin-token"}, {"Authorization": ""}):
        refused = await world.client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "business_api" not in refused.text
    key = await world.client.get(
        "/metrics", headers={"Authorization": f"Bearer {world.keys['tremble']}"}
    )
    assert key.status_code == 401  # an API key is not the admin token


@pytest.mark.parametrize("setting_overrides", [{"admin_token": None}])
async def test_the_metrics_are_not_served_without_an_admin_token(world: World) -> None:
    for headers in ({}, ADMIN):
        answered = await world.client.get("/metrics", headers=headers)
        assert answered.status_code == 404
        assert answered.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_the_document_cache_counts_its_hits_misses_and_size(world: World) -> None:
    document = "{ activeBusiness { id } } # seen for the first time here"
    _, before = await scrape(world)
    for _ in range(2):
        assert (await world.query(document)).status_code == 200
    _, after = await scrape(world)
    assert moved(before, after, "business_api_document_cache_requests_total") == {
        labels(result="miss"): 1,
        labels(result="hit"): 1,
    }
    cache = world.services.executor.cache
    assert value(after, "business_api_document_cache_entries") == len(cache) >= 1
    assert value(after, "business_api_document_cache_bytes") == cache.size_bytes > 0


@pytest.mark.parametrize(
    "setting_overrides", [{"breaker_failures": 1, "breaker_cooldown_seconds": COOL_DOWN}]
)
async def test_a_circuit_that_opens_and_closes_again_is_a_gauge(world: World) -> None:
    connection = world.connections["tremble"]
    open_now = {"connection": connection, "provider": "wix"}
    world.emulator().faults.status = 401  # refused credential: one call, not retried
    await world.query(NAMES)
    _, opened = await scrape(world)
    assert value(opened, "business_api_circuit_breaker_open", **open_now) == 1
    world.emulator().faults.status = None
    fast = await world.query(NAMES)  # fails fast: nothing is sent
    assert fast.json()["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    _, failing_fast = await scrape(world)
    assert moved(opened, failing_fast, "business_api_upstream_errors_total") == {
        labels(provider="wix", kind="circuit_open"): 1
    }
    await asyncio.sleep(COOL_DOWN + 0.1)
    assert "errors" not in (await world.query(NAMES)).json()  # the trial call closes it
    _, closed = await scrape(world)
    assert value(closed, "business_api_circuit_breaker_open", **open_now) == 0


async def test_each_indexed_connection_has_its_sync_lag_from_the_store(world: World) -> None:
    store, index = world.services.store, world.services.index
    business = world.business_ids["tremble"]
    added = [
        await store.add_connection(
            business,
            provider="sessions",
            base_url=f"http://upstream.test/tremble/sessions-{n}",
            account_id=f"workspace-{n}",
            credential="sessions-credential",
            mode="indexed",
        )
        for n in (1, 2)
    ]
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert await index.take_lease(added[0].id, "a sync", an_hour_ago, 60)
    await index.started(added[0].id, an_hour_ago)
    await index.finished(added[0].id, an_hour_ago, None)  # the second never completed

    _, samples = await scrape(world)
    synced = value(
        samples, "business_api_sync_lag_seconds", connection=added[0].public_id, provider="sessions"
    )
    never = value(
        samples, "business_api_sync_lag_seconds", connection=added[1].public_id, provider="sessions"
    )
    assert 3600 <= synced < 3660
    assert 0 <= never < 60  # since it was added
    lagging = [series for name, series in samples if name == "business_api_sync_lag_seconds"]
    assert len(lagging) == 2  # the live Wix connections have no sync


async def test_each_watched_live_connection_has_its_watch_lag(world: World) -> None:
    watched = world.connections["tremble"]  # a Wix connection: watched for changes
    _, before = await scrape(world)
    assert not [s for name, s in before if name == "business_api_watch_lag_seconds"]
    outcomes = await world.services.sync.sync_all(business_id=world.business_ids["tremble"])
    assert [o.synced for o in outcomes] == [True]
    _, after = await scrape(world)
    lag = value(after, "business_api_watch_lag_seconds", connection=watched, provider="wix")
    assert 0 <= lag < 60
    assert not [s for name, s in after if name == "business_api_sync_lag_seconds"]


async def test_the_build_is_a_label_of_build_info(world: World) -> None:
    _, samples = await scrape(world)
    version = metadata.version("business-api")
    assert value(samples, "business_api_build_info", version=version) == 1


def test_a_request_is_recorded_with_its_cost_and_a_code_from_the_closed_list() -> None:
    recorder = RequestMetrics(DocumentCache(10, 1 << 20))
    before = parsed(exposition([], datetime.now(UTC)).decode())
    facts = RequestFacts("r-1", "POST", "/@tremble/api/graphql", status=200, cost_requested=42)
    facts.error_codes = ["NOT A CODE {injected}"]
    facts.business = "tremble"
    recorder.record(facts)
    after = parsed(exposition([], datetime.now(UTC)).decode())
    assert (
        value(after, "business_api_operation_cost_count")
        - value(before, "business_api_operation_cost_count")
        == 1
    )
    assert (
        value(after, "business_api_operation_cost_sum")
        - value(before, "business_api_operation_cost_sum")
        == 42
    )
    assert moved(before, after, "business_api_requests_total") == {
        labels(endpoint="graphql", status="200", code="other"): 1
    }
    assert moved(before, after, "business_api_business_requests_total") == {}


def test_metrics_per_business_is_a_flag() -> None:
    base = {"BUSINESS_API_SECRET_KEY": "test-secret-key-0123456789abcdef"}
    assert Settings.from_environ(base).metrics_per_business is False
    for text, meant in (("true", True), ("1", True), ("off", False), ("No", False)):
        environ = {**base, "BUSINESS_API_METRICS_PER_BUSINESS": text}
        assert Settings.from_environ(environ).metrics_per_business is meant
    with pytest.raises(
        SettingsError, match="BUSINESS_API_METRICS_PER_BUSINESS must be true or false"
    ):
        Settings.from_environ({**base, "BUSINESS_API_METRICS_PER_BUSINESS": "maybe"})


def _scraped(base_url: str) -> Samples:
    answered = httpx.get(f"{base_url}/metrics", headers=ADMIN)
    assert answered.status_code == 200, answered.text
    return parsed(answered.text)


def _graphql_requests(base_url: str) -> float:
    samples = _scraped(base_url)
    return value(
        samples, "business_api_requests_total", endpoint="graphql", status="200", code="none"
    )


def _graphql_answers_by_worker(metrics_dir: Path) -> dict[str, float]:
    """What each process has counted of the GraphQL requests, from its own counter file."""
    answered: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        for key, count, *_ in MmapedDict.read_all_values_from_file(str(path)):
            _, sample, labels, _ = json.loads(key)
            if sample == "business_api_requests_total" and labels["endpoint"] == "graphql":
                pid = path.stem.rpartition("_")[2]
                answered[pid] = answered.get(pid, 0.0) + count
    return answered


@pytest.mark.subprocess
def test_two_workers_count_together_and_any_of_them_answers_the_scrape(tmp_path: Path) -> None:
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set: the rate limits of workers need Redis")
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    secret = "metrics-tests-secret-0123456789ab"
    key = asyncio.run(store_with_business(url, secret, ["business:read"]))
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    settings = {
        "BUSINESS_API_DATABASE_URL": url,
        "BUSINESS_API_SECRET_KEY": secret,
        "BUSINESS_API_REDIS_URL": redis_url,
        "BUSINESS_API_ADMIN_TOKEN": ADMIN["Authorization"].split()[1],
        "BUSINESS_API_KEY_RATE_LIMIT": "1000",
        "BUSINESS_API_BUSINESS_RATE_LIMIT": "1000",
        "TMPDIR": str(temporary),  # where `serve` makes the workers' metrics directory
    }
    with running_server(settings, "--workers", "2") as base_url:
        [metrics_dir] = temporary.glob("business-api-metrics-*")
        sent = 0
        deadline = time.monotonic() + 60
        # Each request on a new connection, until both workers have answered some.
        while sent < 20 or len(_graphql_answers_by_worker(metrics_dir)) < 2:
            assert time.monotonic() < deadline, "one worker answered every request"
            answered = httpx.post(
                f"{base_url}/@tremble/api/graphql",
                json={"query": PLAIN},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert answered.status_code == 200, answered.text
            sent += 1
        assert [_graphql_requests(base_url) for _ in range(2)] == [sent, sent]

        # A scripted set, each request on a new connection (so to either worker): the
        # scrape, from whichever worker answers it, counts all of it exactly.
        before = _scraped(base_url)
        codes = []
        for bearer, query in [(key, NAMES), ("sk_000000000000_notakey", PLAIN)] * 3:
            answered = httpx.post(
                f"{base_url}/@tremble/api/graphql",
                json={"query": query},
                headers={"Authorization": f"Bearer {bearer}"},
            )
            codes.append((answered.status_code, answered.json()["errors"][0]["extensions"]["code"]))
        refused_scope = codes[0][1]
        assert codes == [(200, refused_scope), (401, "UNAUTHENTICATED")] * 3
        after = _scraped(base_url)
        assert moved(before, after, "business_api_requests_total", endpoint="graphql") == {
            labels(status="200", code=refused_scope): 3,
            labels(status="401", code="UNAUTHENTICATED"): 3,
        }
        assert moved(before, after, "business_api_request_duration_seconds_count") == {
            labels(endpoint="graphql"): 6,
            labels(endpoint="metrics"): 1,  # the first of the two scrapes
        }
    assert list(temporary.iterdir()) == []  # the run's directory went with it


@pytest.mark.subprocess
def test_the_operators_metrics_directory_is_used_and_emptied_of_an_earlier_run(
    tmp_path: Path,
) -> None:
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set: the rate limits of workers need Redis")
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    secret = "metrics-tests-secret-0123456789ab"
    key = asyncio.run(store_with_business(url, secret, ["business:read"]))
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"an earlier run's samples")
    settings: dict[str, Any] = {
        "BUSINESS_API_DATABASE_URL": url,
        "BUSINESS_API_SECRET_KEY": secret,
        "BUSINESS_API_REDIS_URL": redis_url,
        "BUSINESS_API_ADMIN_TOKEN": ADMIN["Authorization"].split()[1],
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with running_server(settings, "--workers", "2") as base_url:
        assert not (metrics_dir / "counter_1.db").exists()
        for _ in range(5):
            httpx.post(
                f"{base_url}/@tremble/api/graphql",
                json={"query": PLAIN},
                headers={"Authorization": f"Bearer {key}"},
            )
        assert _graphql_requests(base_url) == 5
        assert sum(_graphql_answers_by_worker(metrics_dir).values()) == 5  # where it said
    assert metrics_dir.is_dir()  # the operator's directory stays
