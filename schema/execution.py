"""Running one GraphQL operation: parse, enforce the policy, validate, execute, shape errors.

For an API key the policy check runs against the whole graph first (so a hidden field is
FORBIDDEN, not "unknown"), then validation and execution run against the key's slice (so
introspection and suggestions only know the slice). The operator's endpoint skips the
policy and runs against the whole graph.
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
    parse,
    validate,
)
from strawberry.schema._graphql_core import execution_context_class_kwargs

from schema.context import GraphContext
from schema.errors import ClientError, ErrorCode
from schema.operation_limits import OperationLimits, check_shape, check_tokens
from schema.policy import Policy, SchemaSlices, check_operation

log = logging.getLogger(__name__)

_CLOSED_CODES = {code.value for code in ErrorCode}


@dataclass(frozen=True)
class OperationRequest:
    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None


@dataclass
class OperationResult:
    """`data` is absent (not null) when the operation did not execute."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] | None = None
    executed: bool = False
    extensions: dict[str, Any] = field(default_factory=dict)

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
    ) -> None:
        self.internal = internal
        self.slices = slices
        self.policy = policy
        self.limits = limits or OperationLimits()
        self.timeout_seconds = timeout_seconds

    def _parse(self, query: str) -> DocumentNode | OperationResult:
        """Parse within the token limit, then refuse a shape over the operation limits."""
        too_long = check_tokens(query, self.limits)
        if too_long:
            return OperationResult(errors=[_formatted(too_long)])
        try:
            document = parse(query)
        except GraphQLSyntaxError as error:
            return OperationResult(errors=[_with_code(error, ErrorCode.GRAPHQL_PARSE_FAILED)])
        too_big = check_shape(document, self.limits)
        if too_big:
            return OperationResult(errors=[_formatted(error) for error in too_big])
        return document

    def _validated(
        self, schema: strawberry.Schema, document: DocumentNode
    ) -> DocumentNode | OperationResult:
        invalid = validate(schema._schema, document)
        if invalid:
            return OperationResult(
                errors=[_with_code(e, ErrorCode.GRAPHQL_VALIDATION_FAILED) for e in invalid]
            )
        return document

    def _check_for_key(
        self, query: str, scopes: frozenset[str], documentation: str
    ) -> DocumentNode | OperationResult:
        """Parse, limits, policy (against the whole graph), validation (against the slice)."""
        document = self._parse(query)
        if isinstance(document, OperationResult):
            return document
        forbidden = check_operation(
            self.internal._schema, self.policy, document, scopes, documentation
        )
        if forbidden:
            return OperationResult(errors=[_formatted(error) for error in forbidden])
        return self._validated(self.slices.for_scopes(scopes), document)

    def _check_for_operator(self, query: str) -> DocumentNode | OperationResult:
        document = self._parse(query)
        if isinstance(document, OperationResult):
            return document
        return self._validated(self.internal, document)

    async def run_for_key(
        self,
        request: OperationRequest,
        context: GraphContext,
        scopes: frozenset[str],
        documentation: str,
    ) -> OperationResult:
        # The checks are pure CPU work that grows with the document (a 2,000-token document
        # takes tens of milliseconds to parse and validate): a worker thread does it, so
        # the event loop keeps serving every other request meanwhile.
        document = await asyncio.to_thread(
            self._check_for_key, request.query, scopes, documentation
        )
        if isinstance(document, OperationResult):
            return document
        return await self._run(self.slices.for_scopes(scopes), document, request, context)

    async def run_for_operator(
        self, request: OperationRequest, context: GraphContext
    ) -> OperationResult:
        document = await asyncio.to_thread(self._check_for_operator, request.query)
        if isinstance(document, OperationResult):
            return document
        return await self._run(self.internal, document, request, context)

    async def _run(
        self,
        schema: strawberry.Schema,
        document: DocumentNode,
        request: OperationRequest,
        context: GraphContext,
    ) -> OperationResult:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                result = execute(
                    schema._schema,
                    document,
                    context_value=context,
                    variable_values=request.variables,
                    operation_name=request.operation_name,
                    **execution_context_class_kwargs(schema.execution_context_class),
                )
                if not isinstance(result, ExecutionResult):
                    result = await result
        except TimeoutError:
            context.cancel_pending()  # upstream calls still running for this operation
            timeout = GraphQLError(
                f"The operation took longer than {self.timeout_seconds:g} seconds and was "
                "cancelled.",
                extensions={"code": ErrorCode.TIMEOUT.value},
            )
            return OperationResult(errors=[_formatted(timeout)], data=None, executed=True)
        nothing_ran = result.data is None and not context.partial_errors
        if nothing_ran and result.errors and all(e.path is None for e in result.errors):
            # A variable that did not coerce, or no operation to pick: nothing executed.
            return OperationResult(
                errors=[_with_code(e, ErrorCode.BAD_USER_INPUT) for e in result.errors]
            )
        errors = [client_error(e) for e in result.errors or []]
        errors += [client_error(e) for e in context.partial_errors]
        return OperationResult(
            errors=errors, data=result.data, executed=True, extensions=context.extensions()
        )
