"""A business on Wix and Sessionboard, over HTTP, while one of them fails: the business
answers, the healthy provider's participants answer, the error names the failing
connection, and the cursor resumes every connection exactly where it stood."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from purgatory.domain import model as purgatory_model

from server.providers.http import ProviderHttp
from server.providers.sessionboard.emulated.dataset import SessionboardDataset
from tests.server.conftest import TREMBLE_CONTACTS, World, answered

PAGE = """query($after: String) { activeBusiness { id name
  participants(first: 25, after: $after) {
    nodes { id name registrations { nodes { id } } }
    pageInfo { hasNextPage endCursor } } } }"""
LEAKS = ("Internal error", "Unauthorized", "Traceback", '"error":', "INTERNAL_SERVER_ERROR")


@pytest.fixture
def connected() -> dict[str, tuple[str, ...]]:
    return {"tremble": ("wix", "sessionboard:live"), "acme": ("wix",)}


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {
        "key_rate_limit": 100_000,
        "business_rate_limit": 100_000,
        "breaker_failures": 1000,  # this module is about partial data, not the breaker
    }


def wix_names(world: World) -> list[str]:
    return [
        f"{c['info']['name']['first']} {c['info']['name']['last']}"
        for c in world.emulator("wix").dataset.contacts
    ]


def sessionboard_names(world: World) -> list[str | None]:
    dataset: SessionboardDataset = world.emulator("sessionboard").dataset
    contacts = sorted(dataset.contacts, key=lambda c: (c["created_at"], c["id"]))
    return [
        " ".join(p for p in (c.get("first_name"), c.get("last_name")) if p) or None
        for c in contacts
    ]


async def page(world: World, after: str | None) -> tuple[dict[str, Any], Any]:
    response = await world.query(PAGE, {"after": after})
    assert response.status_code == 200
    for leak in LEAKS:
        assert leak not in response.text
    body = answered(response)
    return body, body["data"]["activeBusiness"]


def assert_unavailable(
    body: dict[str, Any], world: World, provider: str, retry_after: int | None = None
) -> None:
    errors = [e for e in body.get("errors", []) if e["path"] == ["activeBusiness", "participants"]]
    when = {} if retry_after is None else {"retryAfter": retry_after}
    assert [e["extensions"] for e in errors] == [
        {
            "code": "UPSTREAM_UNAVAILABLE",
            "provider": provider,
            "connection": world.connection_ids[("tremble", provider)],
            **when,
        }
    ]


async def page_to_the_end(world: World, after: str | None) -> list[str | None]:
    names: list[str | None] = []
    while True:
        body, business = await page(world, after)
        assert "errors" not in body, body
        names += [n["name"] for n in business["participants"]["nodes"]]
        if not business["participants"]["pageInfo"]["hasNextPage"]:
            return names
        after = business["participants"]["pageInfo"]["endCursor"]


async def test_while_all_are_healthy_participants_list_connection_by_connection(
    world: World,
) -> None:
    assert await page_to_the_end(world, None) == wix_names(world) + sessionboard_names(world)


async def test_with_wix_failing_sessionboard_fills_the_page_and_wix_resumes_after(
    world: World,
) -> None:
    world.emulator("wix").faults.status = 500
    body, business = await page(world, None)
    assert (business["id"], business["name"]) == (business["id"], "Tremble Studios")
    assert_unavailable(body, world, "wix")
    names = [n["name"] for n in business["participants"]["nodes"]]
    assert names == sessionboard_names(world)[:25]
    info = business["participants"]["pageInfo"]
    assert info["hasNextPage"] is True  # Wix is unfinished: never an end a client trusts
    world.emulator("wix").faults.status = None
    rest = await page_to_the_end(world, info["endCursor"])
    assert rest == wix_names(world) + sessionboard_names(world)[25:]


async def test_with_sessionboard_failing_midway_wix_goes_on_and_sessionboard_resumes(
    world: World,
) -> None:
    seen: list[str | None] = []
    after = None
    for _ in range(TREMBLE_CONTACTS // 25 + 2):
        body, business = await page(world, after)
        seen += [n["name"] for n in business["participants"]["nodes"]]
        after = business["participants"]["pageInfo"]["endCursor"]
        if len(seen) >= TREMBLE_CONTACTS + 10:  # ten Sessionboard contacts in: break it
            world.emulator("sessionboard").faults.status = 503
            break
    body, business = await page(world, after)
    assert_unavailable(body, world, "sessionboard")
    assert business["participants"]["nodes"] == []
    assert business["participants"]["pageInfo"]["hasNextPage"] is True
    after = business["participants"]["pageInfo"]["endCursor"] or after
    world.emulator("sessionboard").faults.status = None
    seen += await page_to_the_end(world, after)
    assert seen == wix_names(world) + sessionboard_names(world)


async def test_a_failing_relation_empties_only_that_providers_registrations(
    world: World,
) -> None:
    # A page holding the last Wix contacts and the first Sessionboard ones.
    body, business = await page(world, None)
    for _ in range(TREMBLE_CONTACTS // 25 - 1):
        body, business = await page(world, business["participants"]["pageInfo"]["endCursor"])
    after = business["participants"]["pageInfo"]["endCursor"]
    faults = world.emulator("sessionboard").faults
    faults.status, faults.endpoints = 500, frozenset({"sessions.search"})
    body, business = await page(world, after)
    nodes = business["participants"]["nodes"]
    wix, sessionboard = nodes[: TREMBLE_CONTACTS % 25 or 25], nodes[TREMBLE_CONTACTS % 25 :]
    assert [n["name"] for n in sessionboard] == sessionboard_names(world)[: len(sessionboard)]
    assert any(n["registrations"]["nodes"] for n in wix)
    assert all(n["registrations"]["nodes"] == [] for n in sessionboard)
    failed = {tuple(e["path"][:4]) for e in body["errors"]}
    assert failed == {
        ("activeBusiness", "participants", "nodes", i)
        for i in range(len(nodes) - len(sessionboard), len(nodes))
    }
    assert {e["extensions"]["provider"] for e in body["errors"]} == {"sessionboard"}


async def test_a_malformed_field_in_a_valid_body_is_upstream_unavailable(world: World) -> None:
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    app = world.emulator("sessionboard").app

    async def contacts(request: Request) -> JSONResponse:
        bad = {"id": 1, "first_name": {"not": "a string"}, "email": "x@example.com"}
        return JSONResponse({"data": [bad], "pagination": {"currentPage": 1, "totalPages": 1}})

    app.router.routes.insert(
        0, Route("/v1/organization/{org}/contacts", contacts, methods=["POST"])
    )
    world.emulator("wix").faults.status = 500
    body, business = await page(world, None)
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"UPSTREAM_UNAVAILABLE"}
    assert business["name"] == "Tremble Studios"
    assert "not" not in str(body["errors"])


class TestTheCircuitBreaker:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {
            "key_rate_limit": 100_000,
            "business_rate_limit": 100_000,
            "breaker_failures": 3,
            "breaker_cooldown_seconds": 3.0,  # on a clock the test moves by hand
        }

    async def test_after_repeated_failures_a_connection_fails_fast_until_the_cool_down(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The cool-down runs on purgatory's clock (`time.time()` in its model, read when the
        # circuit opens and on each call while it is open), here moved by hand: a stalled
        # machine can neither end it early nor make the test wait for it.
        now = [1_000_000.0]
        monkeypatch.setattr(purgatory_model, "time", SimpleNamespace(time=lambda: now[0]))
        retry_waits: list[float] = []  # every wait before a retry of a provider call
        retry_sleep = ProviderHttp._sleep

        async def counted_sleep(self: ProviderHttp, seconds: float) -> None:
            retry_waits.append(seconds)
            await retry_sleep(self, seconds)

        monkeypatch.setattr(ProviderHttp, "_sleep", counted_sleep)
        wix = world.emulator("wix")
        wix.faults.status = 500
        for _ in range(3):  # three failed calls (each with its retries) open the circuit
            body, _ = await page(world, None)
            assert_unavailable(body, world, "wix")
        calls, waits = wix.total_requests, len(retry_waits)
        assert calls >= 3 and waits > 0  # the calls that failed were retried, after a wait
        for _ in range(5):
            body, business = await page(world, None)
            # The client is told when the connection is tried again: the whole cool-down.
            assert_unavailable(body, world, "wix", retry_after=3)
            assert business["participants"]["nodes"]  # Sessionboard still answers
        # Failing fast: not one more call reached Wix, and no request waited to retry one.
        assert wix.total_requests == calls
        assert len(retry_waits) == waits
        wix.faults.status = None
        now[0] += 3.0  # the whole cool-down, and not a moment more: still open
        body, _ = await page(world, None)
        assert_unavailable(body, world, "wix", retry_after=1)  # never less than a second
        assert wix.total_requests == calls
        now[0] += 0.01  # past it: one call is let through, and its success closes the circuit
        body, business = await page(world, None)
        assert "errors" not in body
        assert [n["name"] for n in business["participants"]["nodes"]] == wix_names(world)[:25]


class TestTheOutboundBudget:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {"key_rate_limit": 100_000, "business_rate_limit": 100_000}

    async def test_the_provider_never_sees_more_than_its_documented_limit(
        self, world: World
    ) -> None:
        # The emulated Sessionboard allows 100 requests per 15 minutes per category, as
        # documented; ask for Sessionboard's first page 110 times.
        sessionboard = world.emulator("sessionboard")
        answered = refused = 0
        body, business = await page(world, None)
        for _ in range(TREMBLE_CONTACTS // 25):
            body, business = await page(world, business["participants"]["pageInfo"]["endCursor"])
        after = business["participants"]["pageInfo"]["endCursor"]
        for _ in range(110):
            body, business = await page(world, after)
            if business["participants"]["nodes"]:
                answered += 1
            else:
                refused += 1
                # When the provider's window lets the next request through: within its 15 min.
                [error] = [e for e in body["errors"] if "retryAfter" in e["extensions"]]
                assert 1 <= error["extensions"]["retryAfter"] <= 900
                assert_unavailable(body, world, "sessionboard", error["extensions"]["retryAfter"])
        assert sessionboard.into_full_window == 0  # not one request sent into a full window
        assert sessionboard.requests["contacts.search"] <= 100
        assert refused >= 10
