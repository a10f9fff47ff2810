"""Running one GraphQL operation: parse, enforce the policy, validate, execute, shape errors.

For an API key the policy check runs against the whole graph first (so a hidden field is
FORBIDDEN, not "unknown"), then validation and execution run against the key's slice (so
introspection and suggestions only know the slice), and the operation is priced before it
runs: over the cost limit, nothing runs; otherwise the response says what it was priced at
and what it cost (`extensions.cost`). The operator's endpoint skips the policy and the
price and runs against the whole graph.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSyntaxError,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql import Executor as GraphQLExecutor

from schema.context import GraphContext
from schema.engine import compiled, query_cost
from schema.engine.analysis import Analysis, analyse
from schema.engine.document_cache import CachedDocument, Checked, DocumentCache
from schema.engine.operation_limits import OperationLimits, check_shape, check_tokens
from schema.errors import ClientError, ErrorCode
from schema.policy import Policy, SchemaSlices, check_operation
from schema.tracing import tracer

log = logging.getLogger(__name__)

_CLOSED_CODES = {code.value for code in ErrorCode}


@dataclass(frozen=True)
class OperationRequest:
    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None


@dataclass
class OperationResult:
    """`data` is absent (not null) when the operation did not execute. The rest are facts
    of the run, for the request's log line (never sent)."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] | None = None
    executed: bool = False
    extensions: dict[str, Any] = field(default_factory=dict)
    document_cached: bool = False  # the document was parsed and checked before
    operation_type: str | None = None  # query, mutation or subscription, once parsed
    cost_requested: int | None = None
    cost_actual: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.errors:
            body["errors"] = self.errors
        if self.executed:
            body["data"] = self.data
        if self.extensions:
            body["extensions"] = self.extensions
        return body


def _formatted(error: GraphQLError) -> dict[str, Any]:
    return dict(error.formatted)


def _with_code(error: GraphQLError, code: ErrorCode) -> dict[str, Any]:
    formatted = _formatted(error)
    formatted["extensions"] = {**(error.extensions or {}), "code": code.value}
    return formatted


def _as(error: GraphQLError, code: ErrorCode) -> GraphQLError:
    """The error, carrying `code` (kept as an error, not yet formatted, for the cache)."""
    error.extensions = {**(error.extensions or {}), "code": code.value}
    return error


# A policy refusal is cached once for every business; its link to the reference is the
# business's own, filled in when it is answered.
DOCUMENTATION = "<documentation>"


def _refused(error: GraphQLError, documentation: str) -> dict[str, Any]:
    formatted = _formatted(error)
    extensions = formatted.get("extensions")
    if extensions and extensions.get("documentation") == DOCUMENTATION:
        formatted["extensions"] = {**extensions, "documentation": documentation}
    return formatted


# Plans kept per document, one per set of values of the variables its @skip/@include read.
MAX_PLANS_PER_DOCUMENT = 16


def _path_key(error: dict[str, Any]) -> tuple[Any, ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in error.get("path") or ())


def ordered(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors in the order of their paths (then messages): the same answer, whichever
    executor ran and in whatever order its work finished."""
    return sorted(errors, key=lambda e: (_path_key(e), e.get("message", "")))


def client_error(error: GraphQLError) -> dict[str, Any]:
    """Shape an error for a client: known codes pass, anything else is masked."""
    original = error.original_error
    if isinstance(original, ClientError):
        formatted = _formatted(error)
        formatted["extensions"] = dict(original.extensions or {})
        return formatted
    code = (error.extensions or {}).get("code")
    if original is None and code in _CLOSED_CODES:
        return _formatted(error)
    log.error("unexpected error while resolving %s", error.path, exc_info=original or error)
    masked = GraphQLError(
        "Internal server error.",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value},
    )
    return _formatted(masked)


class Executor:
    def __init__(
        self,
        internal: strawberry.Schema,
        slices: SchemaSlices,
        policy: Policy,
        limits: OperationLimits | None = None,
        timeout_seconds: float = 10.0,
        cache: DocumentCache | None = None,
    ) -> None:
        self.internal = internal
        self.slices = slices
        self.policy = policy
        self.limits = limits or OperationLimits()
        self.timeout_seconds = timeout_seconds
        # Not `cache or ...`: an empty cache has no length, so it is falsy.
        self.cache = (
            cache if cache is not None else DocumentCache(max_entries=1000, max_bytes=32 << 20)
        )

    def _parsed(self, query: str) -> CachedDocument:
        """Parse within the token limit, then refuse a shape over the operation limits."""
        too_long = check_tokens(query, self.limits)
        if too_long:
            return CachedDocument(None, [_formatted(too_long)])
        try:
            document = parse(query)
        except GraphQLSyntaxError as error:
            return CachedDocument(None, [_with_code(error, ErrorCode.GRAPHQL_PARSE_FAILED)])
        analysis = analyse(document, self.internal._schema)
        too_big = check_shape(analysis, self.limits)
        if too_big:
            return CachedDocument(None, [_formatted(error) for error in too_big])
        return CachedDocument(document, None, analysis)

    def _check(
        self, query: str, entry: CachedDocument | None, scopes: frozenset[str] | None
    ) -> tuple[CachedDocument, Checked | None]:
        """Parse (unless cached), then for a key's scopes the policy (against the whole
        graph) and validation (against the key's slice); for the operator (`scopes` None),
        validation against the whole graph."""
        entry = entry or self._parsed(query)
        if entry.document is None:
            return entry, None
        if scopes is not None:
            assert entry.analysis is not None
            forbidden = check_operation(entry.analysis, self.policy, scopes, DOCUMENTATION)
            if forbidden:
                return entry, Checked(refusal=forbidden)
        schema = self.internal if scopes is None else self.slices.for_scopes(scopes)
        invalid = validate(schema._schema, entry.document)
        if invalid:
            return entry, Checked(
                refusal=[_as(e, ErrorCode.GRAPHQL_VALIDATION_FAILED) for e in invalid]
            )
        return entry, Checked(refusal=None)

    async def checked(
        self, query: str, scopes: frozenset[str] | None
    ) -> tuple[CachedDocument, Checked | None]:
        """The document as these scopes see it, from the cache when it was seen before.

        The first time, the checks run in a worker thread: they are pure CPU work that
        grows with the document (a 2,000-token document takes tens of milliseconds to
        parse and validate), and the event loop keeps serving everyone else meanwhile."""
        cached = self.cache.get(query)
        if cached is not None and (cached.document is None or scopes in cached.checked):
            return cached, cached.checked.get(scopes)
        entry, checked = await asyncio.to_thread(self._check, query, cached, scopes)
        if checked is not None:
            entry.checked[scopes] = checked
        self.cache.put(query, entry)
        return entry, checked

    async def document(self, query: str) -> DocumentNode | None:
        """The parsed document, or None when it does not parse or is over a limit."""
        entry = self.cache.get(query)
        if entry is None:
            entry = await asyncio.to_thread(self._parsed, query)
            self.cache.put(query, entry)
        return entry.document

    async def run_for_key(
        self,
        request: OperationRequest,
        context: GraphContext,
        scopes: frozenset[str],
        documentation: str,
    ) -> OperationResult:
        cached = request.query in self.cache
        result = await self._run_for_key(request, context, scopes, documentation)
        result.document_cached = cached
        return result

    async def _run_for_key(
        self,
        request: OperationRequest,
        context: GraphContext,
        scopes: frozenset[str],
        documentation: str,
    ) -> OperationResult:
        entry, checked = await self.checked(request.query, scopes)
        if entry.refusal is not None:
            return OperationResult(errors=entry.refusal)
        assert entry.document is not None and checked is not None
        chosen = get_operation_ast(entry.document, request.operation_name)
        operation_type = chosen.operation.value if chosen else None
        if checked.refusal is not None:
            refused = [_refused(e, documentation) for e in checked.refusal]
            return OperationResult(errors=refused, operation_type=operation_type)
        schema = self.slices.for_scopes(scopes)
        built = compiled.build(schema, entry.document, request.variables, request.operation_name)
        if isinstance(built, list):
            # Variables that do not coerce, or no operation to pick: Strawberry reports it.
            result = await self._run(schema, entry.document, request, context)
            result.operation_type = operation_type
            return result
        assert entry.analysis is not None
        price = await self._price(schema, entry.analysis, built, checked)
        too_costly = query_cost.check_cost(price.requested, self.limits.max_cost)
        if too_costly:
            return OperationResult(
                errors=[_formatted(too_costly)],
                operation_type=operation_type,
                cost_requested=price.requested,
            )
        result = await self._run(
            schema, entry.document, request, context, checked, built, entry.analysis
        )
        result.operation_type = operation_type
        result.cost_requested = price.requested
        if result.executed:
            cost = price.report(result.data)
            result.cost_actual = cost["actualQueryCost"]
            result.extensions = {"cost": cost, **result.extensions}
        return result

    async def _price(
        self,
        schema: strawberry.Schema,
        analysis: Analysis,
        built: GraphQLExecutor,
        checked: Checked,
    ) -> query_cost.Price:
        """The operation's price, kept with the document. Pricing it the first time is
        linear in the document but still a few milliseconds for the largest one allowed,
        so, like the checks, it runs in a worker thread."""
        key = query_cost.price_key(analysis, built)
        kept: query_cost.Price | None = checked.costs.get(key)
        if kept is not None:
            return kept
        price = await asyncio.to_thread(
            query_cost.price, schema._schema, self.policy.cost, analysis, built
        )
        if len(checked.costs) <= query_cost.MAX_PRICES_PER_DOCUMENT:
            checked.costs[key] = price
        return price

    async def run_for_operator(
        self, request: OperationRequest, context: GraphContext
    ) -> OperationResult:
        entry, checked = await self.checked(request.query, None)
        if entry.refusal is not None:
            return OperationResult(errors=entry.refusal)
        assert entry.document is not None and checked is not None
        if checked.refusal is not None:
            return OperationResult(errors=[_refused(e, "") for e in checked.refusal])
        return await self._run(self.internal, entry.document, request, context)

    async def _run(
        self,
        schema: strawberry.Schema,
        document: DocumentNode,
        request: OperationRequest,
        context: GraphContext,
        checked: Checked | None = None,
        built: GraphQLExecutor | None = None,
        analysis: Analysis | None = None,
    ) -> OperationResult:
        """Execute within the time limit: compiled when a key's query allows it (`checked`
        holds its plans, `built` the operation graphql-core prepared, `analysis` what the
        plan is compiled from), otherwise, or when the plan gives up, on Strawberry."""
        try:
            with tracer.start_as_current_span("operation") as span:
                async with asyncio.timeout(self.timeout_seconds):
                    if checked is not None and built is not None and analysis is not None:
                        ran = await self._run_compiled(schema, analysis, context, checked, built)
                        if ran is not None:
                            span.set_attribute("business_api.executor", "compiled")
                            return ran
                    span.set_attribute("business_api.executor", "strawberry")
                    return await self._run_strawberry(schema, document, request, context)
        except TimeoutError:
            context.cancel_pending()  # upstream calls still running for this operation
            timeout = GraphQLError(
                f"The operation took longer than {self.timeout_seconds:g} seconds and was "
                "cancelled.",
                extensions={"code": ErrorCode.TIMEOUT.value},
            )
            return OperationResult(errors=[_formatted(timeout)], data=None, executed=True)

    async def _run_compiled(
        self,
        schema: strawberry.Schema,
        analysis: Analysis,
        context: GraphContext,
        checked: Checked,
        built: GraphQLExecutor,
    ) -> OperationResult | None:
        key = compiled.plan_key(analysis, built)
        if key in checked.plans:
            plan = checked.plans[key]
        else:
            plan = compiled.compile_plan(schema, analysis, built)
            if len(checked.plans) < MAX_PLANS_PER_DOCUMENT:
                checked.plans[key] = plan
        if plan is None:
            return None
        try:
            data, errors = await compiled.run_plan(plan, context, built)
        except compiled.Uncompiled:
            context.partial_errors.clear()  # Strawberry starts over, on the same loaders
            return None
        formatted = [client_error(e) for e in errors + context.partial_errors]
        return OperationResult(
            errors=ordered(formatted), data=data, executed=True, extensions=context.extensions()
        )

    async def _run_strawberry(
        self,
        schema: strawberry.Schema,
        document: DocumentNode,
        request: OperationRequest,
        context: GraphContext,
    ) -> OperationResult:
        result = execute(
            schema._schema,
            document,
            context_value=context,
            variable_values=request.variables,
            operation_name=request.operation_name,
            executor_class=schema.execution_context_class,
        )
        if not isinstance(result, ExecutionResult):
            result = await result
        nothing_ran = result.data is None and not context.partial_errors
        if nothing_ran and result.errors and all(e.path is None for e in result.errors):
            # A variable that did not coerce, or no operation to pick: nothing executed.
            return OperationResult(
                errors=[_with_code(e, ErrorCode.BAD_USER_INPUT) for e in result.errors]
            )
        errors = [client_error(e) for e in result.errors or []]
        errors += [client_error(e) for e in context.partial_errors]
        return OperationResult(
            errors=ordered(errors), data=result.data, executed=True, extensions=context.extensions()
        )
