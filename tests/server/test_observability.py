"""Every request explained: an id the integrator can quote, one structured log line, and
provider failures and internal errors logged for the operator, never with a secret, a
credential or a person's data in them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from schema.context import GraphContext
from schema.engine.execution import OperationRequest
from schema.errors import ErrorCode
from server.observability.logs import log_config
from server.store.database import create_engine, session_factory
from tests.server.conftest import World, credential_of

EXAMPLE = """{ activeBusiness { participants(first: 5) { nodes { id name email
  registrations(first: 3) { nodes { id } } } } } }"""
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    # Small enough for the scenario below to reach every limit quickly.
    return {"execution_timeout_seconds": 1.0, "upstream_timeout_seconds": 5.0,
            "max_body_bytes": 20_000}  # fmt: skip


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """The server's log lines as `serve` writes them (its JSON formatter), read
    back parsed. (Added beside pytest's own handlers, which a whole dictConfig would close.)"""
    formatter = log_config("json", "INFO")["formatters"]["structured"]
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(**{k: v for k, v in formatter.items() if k != "()"})
    )
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in written.getvalue().splitlines()]  # JSON, each

    try:
        yield read
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        structlog.contextvars.clear_contextvars()


def _requests(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == "request"]


async def test_a_request_id_is_in_the_header_the_errors_and_the_log_line(
    world: World, log_lines: Lines
) -> None:
    answered = await world.query("{ activeBusiness { nope } }")
    request_id = answered.headers["x-request-id"]

    assert len(request_id) == 16
    assert answered.json()["errors"][0]["extensions"]["requestId"] == request_id
    [line] = _requests(log_lines())
    assert line["request_id"] == request_id
    assert line["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"]
    assert line["status"] == 200 and line["path"] == "/@tremble/api/graphql"
    assert line["business"] == "tremble" and line["key_id"] == world.keys["tremble"].split("_")[1]
    assert line["operation_type"] == "query" and len(line["document_hash"]) == 16


async def test_the_request_line_says_what_the_operation_cost_and_called(
    world: World, log_lines: Lines
) -> None:
    first = await world.query(EXAMPLE)
    again = await world.query(EXAMPLE)

    one, two = _requests(log_lines())
    cost = first.json()["extensions"]["cost"]
    assert one["cost_requested"] == cost["requestedQueryCost"] > 0
    assert one["cost_actual"] == cost["actualQueryCost"]
    assert one["upstream_calls"] == {"wix": sum(world.upstream_calls().values()) // 2}
    assert (one["document_cached"], two["document_cached"]) == (False, True)
    assert one["bytes_out"] == len(first.content) and two["bytes_out"] == len(again.content)
    assert one["duration_ms"] > 0


async def test_the_operation_result_carries_the_facts_of_its_run(world: World) -> None:
    """The executor's result says whether the document was seen, what kind of operation it
    is and what it was priced and charged: the handler reads nothing back from the document
    cache or from the errors' extensions."""
    services = world.services
    business = await services.store.get_business("tremble")
    context = GraphContext(
        business=business, directory=services.directory, cursors=services.cursors
    )
    scopes = frozenset(services.policy.scopes)
    page = "query($n: Int) { activeBusiness { participants(first: $n) { nodes { id } } } }"

    def run(n: int) -> Any:
        request = OperationRequest(page, {"n": n})
        return services.executor.run_for_key(request, context, scopes, "")

    refused, answered = await run(100_000), await run(3)
    assert refused.errors[0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert (refused.document_cached, refused.operation_type) == (False, "query")
    assert (refused.cost_requested, refused.cost_actual) == (
        refused.errors[0]["extensions"]["cost"],
        None,
    )
    cost = answered.extensions["cost"]
    assert answered.document_cached
    assert (answered.cost_requested, answered.cost_actual) == (
        cost["requestedQueryCost"],
        cost["actualQueryCost"],
    )


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("proxy-7f3a9c2e-0001", True),
        ("abc", False),  # too short to be anyone's id
        ("x" * 200, False),
        ('id with spaces and "quotes"', False),
    ],
)
async def test_a_sane_incoming_request_id_is_kept_and_anything_else_replaced(
    world: World, sent: str, kept: bool
) -> None:
    answered = await world.query("{ activeBusiness { id } }", headers={"X-Request-Id": sent})

    assert (answered.headers["x-request-id"] == sent) is kept
    assert len(answered.headers["x-request-id"]) == (len(sent) if kept else 16)


async def test_every_response_has_a_request_id_even_a_refusal(world: World) -> None:
    for answered in (
        await world.client.get("/nowhere"),
        await world.query("{ activeBusiness { id } }", key="sk_wrong"),
        await world.client.get("/healthz"),
    ):
        request_id = answered.headers["x-request-id"]
        errors = answered.json().get("errors", [])
        assert all(e["extensions"]["requestId"] == request_id for e in errors)


async def test_a_provider_failure_is_logged_with_the_connection_and_the_cause(
    world: World, log_lines: Lines
) -> None:
    world.emulator().faults.status = 500
    answered = await world.query(EXAMPLE)

    assert answered.json()["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    lines = log_lines()
    failures = [line for line in lines if line.get("connection") or "connection=" in line["event"]]
    assert failures, lines
    failure = failures[0]
    text = json.dumps(failure)
    assert world.connections["tremble"] in text and "wix" in text and "500" in text
    assert failure["request_id"] == answered.headers["x-request-id"]
    assert failure["level"] == "warning"


async def test_an_internal_error_is_logged_with_its_trace_and_shown_only_as_a_code(
    world: World, log_lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def defect(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a defect in the server")

    monkeypatch.setattr(world.services.executor, "run_for_key", defect)
    answered = await world.query("{ activeBusiness { id } }")

    assert answered.status_code == 500
    [error] = answered.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "defect" not in answered.text
    lines = log_lines()
    [logged] = [line for line in lines if line["level"] == "error"]
    assert "RuntimeError: a defect in the server" in logged["exception"]
    assert "Traceback" in logged["exception"]
    assert logged["request_id"] == answered.headers["x-request-id"]
    [line] = _requests(lines)
    assert line["status"] == 500 and line["error_codes"] == ["INTERNAL_SERVER_ERROR"]


def _fan_out() -> str:
    fragments = [f"fragment F{i} on Business {{ ...F{i + 1} ...F{i + 1} ...F{i + 1} ...F{i + 1} }}"
                 for i in range(12)]  # fmt: skip
    return (
        "query { activeBusiness { ...F0 } } "
        + " ".join(fragments)
        + (" fragment F12 on Business { id }")
    )


async def _every_error_code(world: World, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """One request for each code of the closed list; returns the codes the answers carried."""
    store = world.services.store
    narrow = (await store.create_api_key(world.business_ids["tremble"], name="narrow",
                                         scopes=["business:read"]))[1]  # fmt: skip
    await store.set_rate_limit(world.business_ids["acme"], 1)
    graphql = "/@tremble/api/graphql"
    answers = [
        await world.query("{ activeBusiness { id } }", key="sk_0123456789ab_" + "x" * 43),
        await world.query("{ activeBusiness { participants { nodes { id } } } }", key=narrow),
        await world.client.post(
            graphql,
            content=b"{not json",
            headers={
                "Authorization": f"Bearer {world.keys['tremble']}",
                "Content-Type": "application/json",
            },
        ),
        await world.query("{ activeBusiness { participants(first: 1000) { nodes { id } } } }"),
        await world.query("{ activeBusiness {"),
        await world.query("{ activeBusiness { nope } }"),
        await world.post({"query": "{ activeBusiness { id } }", "pad": "x" * 30_000}),
        await world.client.post(
            graphql,
            content=b"{}",
            headers={
                "Authorization": f"Bearer {world.keys['tremble']}",
                "Content-Type": "text/plain",
            },
        ),
        await world.query("{ activeBusiness { id } }", headers={"Accept": "image/png"}),
        await world.client.put(
            graphql, headers={"Authorization": f"Bearer {world.keys['tremble']}"}
        ),
        await world.client.get("/nowhere"),
        await world.query("{ activeBusiness { id } }", key="acme", handle="acme"),
        await world.query("{ activeBusiness { id } }", key="acme", handle="acme"),
        await world.query(
            "{ a { b { c { d { e { f { g { h { i { j { k { l } } } } } } } } } } } }"
        ),
        await world.query(
            "{ activeBusiness { " + " ".join(f"a{i}: id" for i in range(20)) + " } }"
        ),
        await world.query("{ " + "a " * 2100 + "}"),
        await world.query(_fan_out()),
        await world.query("""{ activeBusiness { participants(first: 100) { nodes {
            registrations(first: 100) { nodes { id activitySession { id } } } } } } }"""),
    ]
    world.emulator().faults.status = 500
    answers.append(await world.query(EXAMPLE))
    world.emulator().faults.status = None
    world.emulator().faults.hang = True
    answers.append(await world.query(EXAMPLE))
    world.emulator().faults.hang = False

    async def defect(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a defect in the server")

    with monkeypatch.context() as patched:
        patched.setattr(world.services.executor, "run_for_key", defect)
        answers.append(await world.query("{ activeBusiness { id } }"))

    # The store stops answering (a file that cannot be opened) for a key not yet verified.
    unreachable = create_engine(f"sqlite+aiosqlite:///{world.services.settings.policy_path}/x")
    with monkeypatch.context() as patched:
        sessions = session_factory(unreachable, world.services.outage)
        patched.setattr(world.services.store, "_sessions", sessions)
        answers.append(await world.query("{ activeBusiness { id } }", key="tremble-no-email"))
    await unreachable.dispose()

    codes = set()
    for answered in answers:
        for error in answered.json().get("errors", []):
            codes.add(error["extensions"]["code"])
            assert error["extensions"]["requestId"] == answered.headers["x-request-id"]
    return codes


async def test_no_log_line_holds_a_secret_a_credential_an_email_or_a_name(
    world: World, log_lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = await _every_error_code(world, monkeypatch)
    lines = log_lines()

    assert codes == {code.value for code in ErrorCode}  # the scenario reaches every code
    assert {c for line in _requests(lines) for c in line.get("error_codes", [])} == codes
    settings = world.services.settings
    secrets = [str(settings.secret_key), str(settings.admin_token)]
    for key in world.keys.values():
        secrets += [key, key.rsplit("_", 1)[1]]
    secrets += [credential_of("wix", handle) for handle in ("tremble", "acme")]
    people = []
    for emulator in world.emulators.values():
        for contact in emulator.dataset.contacts:
            name = contact["info"]["name"]
            people += [contact["primaryInfo"]["email"], f"{name['first']} {name['last']}"]
    assert len(people) > 100
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    assert len(lines) >= len(codes)
    for needle in secrets + people:
        assert needle not in text, f"{needle!r} was logged"
    assert logging.getLogger("server").getEffectiveLevel() <= logging.WARNING
