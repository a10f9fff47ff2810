"""Schema-aware fuzzing of the Business API, shared by `tests/server/test_fuzz.py` and
`benchmarks/fuzz.py`.

Operations come from hypothesis-graphql over the schema a key introspects, so they only use
the fields and types that key can see. hypothesis-graphql draws `first` as any Int (or
null), and anything outside 1..100 is BAD_USER_INPUT, so most operations would never reach a
provider. `operations()` therefore draws one of three kinds for each example:

- "valid pages" (about 3 in 5): a valid operation in which every field taking `first` gets an
  integer in 1..100 and `after` is left out, null, or a genuine cursor for that connection.
  hypothesis-graphql cannot constrain a built-in scalar's arguments (custom strategies are
  for custom scalars only), so this is done on the generated AST with graphql-core's
  `TypeInfo` (which knows each field's definition), then printed with `print_ast`.
- "as generated" (about 1 in 5): a valid operation with hypothesis-graphql's own argument values.
- "negative" (about 1 in 5): hypothesis-graphql's negative mode, one schema violation each.

`draw_examples()` collects the operations before any is sent: a synchronous `@given` whose
body only appends, run with `derandomize=True` (or a fixed `seed`), no database and the
generate phase only, so a run draws the same operations every time. Hypothesis cannot drive
the requests itself here: the app lives on the event loop of an async fixture, and a
hypothesis test running inside that loop could neither await nor assert over the whole run
(the share of operations that reached the provider). The price is no shrinking; a violation
is reported with the full document that caused it.

`survey()` reads what a run needs to know beforehand over HTTP (the schema, genuine cursors,
both businesses' participant IDs), `check()` holds the assertions every response must meet,
and `run()` sends operations and tallies what came back.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import graphql
import httpx
import hypothesis_graphql
from graphql.language import ArgumentNode, DocumentNode, FieldNode, NameNode, Visitor
from graphql.utilities import TypeInfo, TypeInfoVisitor
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from schema.errors import ErrorCode
from server.settings import Settings
from tests.server.documents import PARTICIPANT_PAGE

T = TypeVar("T")

INTROSPECTION_QUERY = graphql.get_introspection_query()
KNOWN_CODES = frozenset(code.value for code in ErrorCode)
# The emulator is healthy and never throttles, so a provider failure or a masked exception
# means the server did something wrong with a fuzzed operation: both count as violations.
UNEXPLAINED_CODES = frozenset(
    {ErrorCode.INTERNAL_SERVER_ERROR.value, ErrorCode.UPSTREAM_UNAVAILABLE.value}
)
STACK_TRACE_TEXT = ("Traceback", 'File "')
# Words of the Wix emulator's error bodies (`application_error`, `validation_error`).
PROVIDER_ERROR_TEXT = (
    "RESOURCE_EXHAUSTED",
    "PERMISSION_DENIED",
    "applicationError",
    "validationError",
    "fieldViolations",
)
EXCEPTION_REPR = re.compile(
    r"\b[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\("
    r"|<[A-Za-z_][\w.]* object at 0x[0-9a-fA-F]+>"
    r"|<class '"
)
FIRST_MIN, FIRST_MAX = 1, 100
# Hypothesis already draws the bounds (1 especially) more often than the middle.
FIRSTS = st.integers(FIRST_MIN, FIRST_MAX)
VALID_PAGES, AS_GENERATED, NEGATIVE = "valid pages", "as generated", "negative"
KINDS = (VALID_PAGES, VALID_PAGES, VALID_PAGES, AS_GENERATED, NEGATIVE)
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Any character JSON can carry: lone surrogates cannot be encoded as UTF-8.
ANY_CHARACTER = st.characters(exclude_categories=["Cs"])


@dataclasses.dataclass(frozen=True)
class Operation:
    document: str
    kind: str = AS_GENERATED
    variables: dict[str, Any] | None = None
    # For a mutated cursor: the genuine cursor it was made from.
    origin: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"query": self.document}
        if self.variables is not None:
            body["variables"] = self.variables
        return body


ALL_PARTICIPANTS = """
query All($after: String) {
  activeBusiness {
    participants(first: 100, after: $after) {
      nodes { id }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
NESTED_CURSORS = """
{
  activeBusiness {
    participants(first: 3) {
      nodes {
        registrations(first: 1) { pageInfo { endCursor } }
        productPurchases(first: 1) { pageInfo { endCursor } }
      }
    }
  }
}
"""


class Target(Protocol):
    """A server to fuzz, as the tests' `World` offers it: one API key per business handle."""

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str, handle: str
    ) -> httpx.Response: ...


@dataclasses.dataclass(frozen=True)
class Survey:
    """What a run knows before it starts, read over HTTP with each business's own key."""

    schema: graphql.GraphQLSchema
    own_ids: list[str]
    foreign_ids: list[str]
    # Genuine `after` values by `Type.field`, for `operations()`.
    cursors: dict[str, list[str]]
    # Genuine cursors for `PARTICIPANT_PAGE`, each with the IDs of the page it gives, or None
    # when it is refused (another business's, another connection's), for `cursor_check()`.
    pages: dict[str, list[str] | None]


def client_schema(introspection: Mapping[str, Any]) -> graphql.GraphQLSchema:
    """The schema a key sees, from the JSON answer to `INTROSPECTION_QUERY`."""
    return graphql.build_client_schema(introspection["data"])


async def _answer(
    target: Target, query: str, variables: dict[str, Any] | None, handle: str
) -> dict[str, Any]:
    response = await target.query(query, variables, key=handle, handle=handle)
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and "errors" not in body, response.text
    return body


async def _participant_ids(target: Target, handle: str) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        body = await _answer(target, ALL_PARTICIPANTS, {"after": after}, handle)
        page = body["data"]["activeBusiness"]["participants"]
        ids += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


def _end_cursor(body: dict[str, Any]) -> str:
    return str(body["data"]["activeBusiness"]["participants"]["pageInfo"]["endCursor"])


async def survey(target: Target, handle: str = "tremble", other: str = "acme") -> Survey:
    """The slice `handle`'s key introspects, and cursors and IDs of `handle` and `other`."""
    schema = client_schema(await _answer(target, INTROSPECTION_QUERY, None, handle))
    own_ids = await _participant_ids(target, handle)
    foreign_ids = await _participant_ids(target, other)
    assert own_ids and foreign_ids and not set(own_ids) & set(foreign_ids)
    first = _end_cursor(await _answer(target, PARTICIPANT_PAGE, None, handle))
    second_page = await _answer(target, PARTICIPANT_PAGE, {"after": first}, handle)
    foreign_page = _end_cursor(await _answer(target, PARTICIPANT_PAGE, None, other))
    nested = (await _answer(target, NESTED_CURSORS, None, handle))["data"]["activeBusiness"]
    other_connections = [
        node[connection]["pageInfo"]["endCursor"]
        for node in nested["participants"]["nodes"]
        for connection in ("registrations", "productPurchases")
        if node[connection]["pageInfo"]["endCursor"]
    ]
    assert other_connections
    return Survey(
        schema=schema,
        own_ids=own_ids,
        foreign_ids=foreign_ids,
        cursors={"Business.participants": [first, _end_cursor(second_page)]},
        pages={
            first: page_ids(second_page),
            foreign_page: None,
            **dict.fromkeys(other_connections),
        },
    )


def forbidden_text(
    settings: Settings, api_keys: Iterable[str], credentials: Iterable[str], survey: Survey
) -> list[str]:
    """What no answer to `handle`'s key may carry: secrets, and the other business's IDs."""
    secrets = [settings.secret_key, settings.admin_token]
    return [
        *(str(secret) for secret in secrets if secret is not None),
        *api_keys,
        *credentials,
        *survey.foreign_ids,
    ]


# ---------------------------------------------------------------- generation


def _argument(name: str, value: graphql.ValueNode) -> ArgumentNode:
    return ArgumentNode(name=NameNode(value=name), value=value)


class _ValidPages(Visitor):
    """Gives every field that takes `first` a value in 1..100 and a usable `after`."""

    def __init__(
        self, type_info: TypeInfo, draw: st.DrawFn, cursors: Mapping[str, Sequence[str]]
    ) -> None:
        super().__init__()
        self.type_info, self.draw, self.cursors = type_info, draw, cursors

    def enter_field(self, node: FieldNode, *_: Any) -> FieldNode | None:
        definition = self.type_info.get_field_def()
        parent = self.type_info.get_parent_type()
        if definition is None or parent is None or "first" not in definition.args:
            return None
        first = self.draw(FIRSTS, label="first")
        arguments = [a for a in node.arguments or () if a.name.value not in ("first", "after")]
        arguments.append(_argument("first", graphql.IntValueNode(value=str(first))))
        if "after" in definition.args:
            pool = self.cursors.get(f"{parent.name}.{node.name.value}", ())
            choice = self.draw(st.sampled_from(("omit", "null", "cursor") if pool else ("omit",)))
            if choice == "null":
                arguments.append(_argument("after", graphql.NullValueNode()))
            elif choice == "cursor":
                cursor = self.draw(st.sampled_from(pool), label="after")
                arguments.append(_argument("after", graphql.StringValueNode(value=cursor)))
        return dataclasses.replace(node, arguments=tuple(arguments))


def with_valid_pages(
    document: DocumentNode,
    schema: graphql.GraphQLSchema,
    draw: st.DrawFn,
    cursors: Mapping[str, Sequence[str]] | None = None,
) -> DocumentNode:
    """A copy of `document` whose connections ask for 1..100 items from a usable position."""
    type_info = TypeInfo(schema)
    visitor = TypeInfoVisitor(type_info, _ValidPages(type_info, draw, cursors or {}))
    return graphql.visit(document, visitor)  # type: ignore[no-any-return]


def _keep(document: DocumentNode) -> DocumentNode:
    return document


def operations(
    schema: graphql.GraphQLSchema, cursors: Mapping[str, Sequence[str]] | None = None
) -> st.SearchStrategy[Operation]:
    """Operations over `schema`, of the three kinds the module docstring describes.

    `cursors` maps `Type.field` (e.g. `Business.participants`) to genuine `after` values.
    """
    positive = hypothesis_graphql.queries(schema, print_ast=_keep)
    negative = hypothesis_graphql.queries(
        schema, print_ast=_keep, mode=hypothesis_graphql.Mode.NEGATIVE
    )

    @st.composite
    def operation(draw: st.DrawFn) -> Operation:
        kind = draw(st.sampled_from(KINDS), label="kind")
        if kind == NEGATIVE:
            return Operation(graphql.print_ast(draw(negative)), kind)
        document = draw(positive)
        if kind == VALID_PAGES:
            document = with_valid_pages(document, schema, draw, cursors)
        return Operation(graphql.print_ast(document), kind)

    return operation()


def draw_examples(strategy: st.SearchStrategy[T], count: int, seed: int | None = None) -> list[T]:
    """Up to `count` examples of `strategy`, the same ones on every run.

    Without `seed` the draw is derandomized; with it, the seed picks another fixed sequence.
    Hypothesis stops early only if it runs out of distinct examples.
    """
    drawn: list[T] = []

    @settings(
        max_examples=count,
        derandomize=seed is None,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: T) -> None:
        drawn.append(example)

    if seed is not None:
        collect = hypothesis_seed(seed)(collect)
    collect()
    return drawn


# ---------------------------------------------------------------- cursor mutations


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _repayload(cursor: str) -> st.SearchStrategy[str]:
    """The cursor's JSON payload changed, its signature kept."""
    body, dot, signature = cursor.partition(".")
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        return st.just(cursor[::-1])
    if not isinstance(payload, dict) or not payload:
        return st.just(cursor[::-1])
    values = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(ANY_CHARACTER, max_size=20),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )

    def changed(edit: tuple[str, Any, bool]) -> str:
        key, value, drop = edit
        edited = {k: v for k, v in payload.items() if not (drop and k == key)}
        if not drop:
            edited[key] = value
        return _b64(json.dumps(edited, separators=(",", ":")).encode()) + dot + signature

    return st.tuples(st.sampled_from(sorted(payload)), values, st.booleans()).map(changed)


def _one_mutation(cursor: str) -> st.SearchStrategy[str]:
    size = len(cursor)
    noise = st.one_of(
        st.text(BASE64URL + "=.", min_size=1, max_size=12),
        st.text(ANY_CHARACTER, min_size=1, max_size=12),
    )
    base64_noise = st.text(BASE64URL, min_size=1, max_size=80)
    body, _, signature = cursor.partition(".")
    choices = [
        st.tuples(st.integers(0, size), noise).map(
            lambda t: cursor[: t[0]] + t[1] + cursor[t[0] :]
        ),
        noise.map(lambda s: cursor + s),
        base64_noise.map(lambda s: f"{body}.{s}"),
        base64_noise.map(lambda s: f"{s}.{signature}"),
        st.tuples(base64_noise, base64_noise).map(lambda t: f"{t[0]}.{t[1]}"),
        st.just(f"{signature}.{body}"),
        _repayload(cursor),
    ]
    if size:
        index = st.integers(0, size - 1)
        choices += [
            st.tuples(index, st.sampled_from(BASE64URL + ".=")).map(
                lambda t: cursor[: t[0]] + t[1] + cursor[t[0] + 1 :]
            ),
            index.map(lambda i: cursor[:i]),
            index.map(lambda i: cursor[i:]),
            st.tuples(index, st.integers(1, 8)).map(
                lambda t: cursor[: t[0]] + cursor[t[0] + t[1] :]
            ),
            index.map(lambda i: cursor[:i] + cursor[i].swapcase() + cursor[i + 1 :]),
        ]
    return st.one_of(choices)


@st.composite
def mutated_cursors(draw: st.DrawFn, genuine: Sequence[str]) -> tuple[str, str]:
    """(the genuine cursor, one to three mutations of it)."""
    origin = draw(st.sampled_from(genuine), label="origin")
    cursor = origin
    for _ in range(draw(st.integers(1, 3))):
        cursor = draw(_one_mutation(cursor))
    return origin, cursor


# ---------------------------------------------------------------- checks


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def reached_provider(data: Any) -> bool:
    """Whether the answer carries provider data: a non-empty `nodes` or an `endCursor`."""
    if isinstance(data, dict):
        nodes, cursor = data.get("nodes"), data.get("endCursor")
        if (isinstance(nodes, list) and nodes) or isinstance(cursor, str):
            return True
        return any(reached_provider(item) for item in data.values())
    if isinstance(data, list):
        return any(reached_provider(item) for item in data)
    return False


def check(
    sent: Operation, status: int, text: str, forbidden: Iterable[str] = ()
) -> tuple[list[str], Any]:
    """The problems with one response (empty when it is fine), and its decoded body.

    `forbidden` are strings no response may carry: credentials, another business's IDs.
    Text the client sent may be echoed in an error message, so it is never a leak.
    """
    problems: list[str] = []
    if status >= 500:
        problems.append(f"status {status}")
    try:
        body = json.loads(text)
    except ValueError:
        return [*problems, "the body is not JSON"], None
    if not isinstance(body, dict):
        return [*problems, "the body is not a JSON object"], body
    errors = body.get("errors", [])
    if not isinstance(errors, list):
        problems.append("`errors` is not a list")
        errors = []
    for error in errors:
        code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
        if code not in KNOWN_CODES:
            problems.append(f"error code {code!r} is not in the closed list")
        elif code in UNEXPLAINED_CODES:
            problems.append(f"error code {code} against a healthy provider")
    echoed = json.dumps(sent.body(), ensure_ascii=False) + "".join(_strings(sent.body()))
    seen = text + "\n" + "\n".join(_strings(body))
    markers = [*STACK_TRACE_TEXT, *PROVIDER_ERROR_TEXT, *forbidden]
    problems += [f"the response contains {m!r}" for m in markers if m in seen and m not in echoed]
    reprs = sorted({match.group() for match in EXCEPTION_REPR.finditer(seen)})
    problems += [f"the response contains an exception repr {r!r}" for r in reprs if r not in echoed]
    return problems, body


@dataclasses.dataclass
class Violation:
    operation: Operation
    status: int | None
    text: str
    problems: list[str]

    def describe(self, limit: int = 2000) -> str:
        text = self.text if len(self.text) <= limit else self.text[:limit] + "…"
        variables = f"\nvariables: {json.dumps(self.operation.variables)}"
        return (
            f"{'; '.join(self.problems)}\n"
            f"document ({self.operation.kind}):\n{self.operation.document}"
            f"{variables if self.operation.variables is not None else ''}\n"
            f"status {self.status}, response: {text}"
        )


@dataclasses.dataclass
class Tally:
    sent: int = 0
    kinds: Counter[str] = dataclasses.field(default_factory=Counter)
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)
    codes: Counter[str] = dataclasses.field(default_factory=Counter)
    reached: int = 0
    violations: list[Violation] = dataclasses.field(default_factory=list)

    def record(
        self,
        operation: Operation,
        response: httpx.Response,
        forbidden: Iterable[str] = (),
        also: Callable[[Operation, Any], list[str]] | None = None,
    ) -> Any:
        """Count one answer, keep it as a violation if it has problems; return its body.

        `also` finds further problems in the decoded body, for checks of a caller's own.
        """
        self.sent += 1
        self.kinds[operation.kind] += 1
        self.statuses[response.status_code] += 1
        problems, body = check(operation, response.status_code, response.text, forbidden)
        if also is not None and not problems:
            problems = also(operation, body)
        if isinstance(body, dict):
            for error in body.get("errors") or []:
                extensions = error.get("extensions") if isinstance(error, dict) else None
                self.codes[str((extensions or {}).get("code"))] += 1
            if reached_provider(body.get("data")):
                self.reached += 1
        if problems:
            self.violations.append(
                Violation(operation, response.status_code, response.text, problems)
            )
        return body

    def report(self, limit: int = 5) -> str:
        shown = "\n\n".join(v.describe() for v in self.violations[:limit])
        more = len(self.violations) - limit
        return f"{len(self.violations)} violations:\n\n{shown}" + (
            f"\n\n… and {more} more" if more > 0 else ""
        )


Send = Callable[[Operation], Awaitable[httpx.Response]]


async def run(
    operations: Iterable[Operation],
    send: Send,
    *,
    forbidden: Iterable[str] = (),
    concurrency: int = 1,
    tally: Tally | None = None,
    also: Callable[[Operation, Any], list[str]] | None = None,
) -> Tally:
    """Send every operation, `concurrency` at a time, and tally the answers (see `record`)."""
    tally = tally if tally is not None else Tally()
    forbidden = tuple(forbidden)
    queue = iter(operations)

    async def worker() -> None:
        for operation in queue:
            try:
                response = await send(operation)
            except Exception as error:  # the app raised through the ASGI transport
                tally.sent += 1
                tally.kinds[operation.kind] += 1
                tally.violations.append(
                    Violation(operation, None, repr(error), ["the request raised"])
                )
                continue
            tally.record(operation, response, forbidden, also)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


def page_ids(body: Any) -> list[str]:
    """The participant IDs of an answer to `PARTICIPANT_PAGE`."""
    return [node["id"] for node in body["data"]["activeBusiness"]["participants"]["nodes"]]


def cursor_check(
    expected: Mapping[str, list[str] | None],
) -> Callable[[Operation, Any], list[str]]:
    """A `Tally.record` check for `PARTICIPANT_PAGE` with a mutated `after`.

    The answer is BAD_USER_INPUT, or success with exactly the page of the genuine cursor the
    mutation came from: a signed cursor that still verifies has the same payload.
    `expected[origin]` is that page's IDs, or None for a genuine cursor that is refused
    itself (another business's, another connection's): nothing made from it may succeed.
    """

    def problems(operation: Operation, body: Any) -> list[str]:
        errors = body.get("errors")
        if errors:
            codes = [(e.get("extensions") or {}).get("code") for e in errors]
            if codes != [ErrorCode.BAD_USER_INPUT.value]:
                return [f"a mutated cursor gave {codes}, not [BAD_USER_INPUT]"]
            if body.get("data") != {"activeBusiness": None}:
                return ["a refused cursor came with data"]
            return []
        assert operation.origin is not None
        wanted = expected[operation.origin]
        if wanted is None:
            return ["a cursor made from one the server refuses was accepted"]
        if page_ids(body) != wanted:
            return ["a mutated cursor was accepted and gave another page than the genuine one"]
        return []

    return problems
