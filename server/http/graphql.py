"""The GraphQL endpoints: `/@{handle}/api/graphql` for API keys, `/admin/api/graphql` for
the operator, served as the GraphQL-over-HTTP specification asks.

Order of checks on the key endpoint: a browser's GET gets the explorer page (it carries no
key); then authentication, so nothing about the request is judged for an anonymous caller;
then the `Accept` header (406), the request itself (415/413/400), a GET that would run a
mutation (405), and only then the policy, validation and execution.
"""

from __future__ import annotations

import hashlib

from graphql import OperationType, get_operation_ast
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from schema.context import GraphContext
from schema.engine.execution import OperationRequest, OperationResult
from schema.errors import ErrorCode
from schema.source import ApiKeyRecord, BusinessRecord
from server.auth import authenticate_key, is_admin
from server.http.body import read_operation, read_query_string
from server.http.graphiql import graphiql_page, wants_html
from server.http.rate_limits import buckets_for, rate_headers, rate_limited
from server.http.responses import (
    JSON,
    error_response,
    graphql_response,
    method_not_allowed,
    negotiate,
    not_acceptable,
    unauthenticated,
)
from server.limits.rate import Bucket
from server.observability.requests import RequestFacts, current
from server.services import Services


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def _refuse_unsafe_get(
    operation: OperationRequest, media_type: str, services: Services
) -> JSONResponse | None:
    """405 for a GET whose operation is not a query: GET is a safe method, so the spec
    forbids running a mutation through it. A document that does not parse, or names no
    operation it holds, is left to the executor, which reports it as usual."""
    document = await services.executor.document(operation.query)
    if document is None:
        return None
    chosen = get_operation_ast(document, operation.operation_name)
    if chosen is None or chosen.operation == OperationType.QUERY:
        return None
    return method_not_allowed(
        f"A {chosen.operation.value} cannot be sent with GET: send it with POST.",
        "POST",
        media_type=media_type,
    )


async def _read_body(
    request: Request, services: Services, media_type: str
) -> OperationRequest | JSONResponse:
    settings = services.settings
    return await read_operation(
        request, settings.max_body_bytes, settings.body_timeout_seconds, media_type
    )


async def _refused_key(request: Request, services: Services, media_type: str) -> Response:
    """401, or 429 once the client's address has failed too often this minute: keys are
    not guessable, but answering guesses at full speed invites trying."""
    address = request.client.host if request.client else "unknown"
    verdict = await services.rate_limiter.check(
        [Bucket("address", f"auth-failures:{address}", services.settings.auth_failure_limit)]
    )
    if not verdict.allowed:
        facts = current()
        if facts is not None:
            facts.rate_limited = verdict.scope
        return rate_limited(verdict, media_type)
    return unauthenticated(media_type)


async def business_graphql(request: Request) -> Response:
    if request.method == "GET" and wants_html(request):
        return graphiql_page(request)
    if request.method not in ("GET", "POST"):
        return method_not_allowed(
            "Send GraphQL operations with POST, or queries with GET.", "GET, POST"
        )
    services = _services(request)
    handle = request.path_params["handle"]
    media_type = negotiate(request.headers.get("accept"))
    found = await authenticate_key(request, services.store, services.keys, handle)
    if found is None:
        return await _refused_key(request, services, media_type or JSON)
    business, key = found
    facts = current()
    if facts is not None:
        facts.key_id, facts.business = key.key_id, business.handle
    services.key_use.saw(key.key_id)
    verdict = await services.rate_limiter.check(buckets_for(business, key, services.settings))
    if not verdict.allowed:
        if facts is not None:
            facts.rate_limited = verdict.scope
        return rate_limited(verdict, media_type or JSON)
    response = await _answer(request, services, business, key, media_type)
    response.headers.update(rate_headers(verdict))
    return response


async def _answer(
    request: Request,
    services: Services,
    business: BusinessRecord,
    key: ApiKeyRecord,
    media_type: str | None,
) -> Response:
    """Everything after authentication and the rate limit check."""
    handle = business.handle
    if media_type is None:
        return not_acceptable()
    if request.method == "GET":
        operation = read_query_string(request, media_type)
        if isinstance(operation, OperationRequest):
            operation = await _refuse_unsafe_get(operation, media_type, services) or operation
    else:
        operation = await _read_body(request, services, media_type)
    if isinstance(operation, Response):
        return operation
    context = GraphContext(
        business=business,
        directory=services.directory,
        cursors=services.cursors,
    )
    # Never built from the request's Host header, which the client controls.
    documentation = f"{services.settings.public_url or ''}/@{handle}/api/reference"
    result = await services.executor.run_for_key(
        operation, context, frozenset(key.scopes), documentation
    )
    facts = current()
    if facts is not None:
        _note_operation(facts, operation, result)
    return graphql_response(result, media_type)


def _note_operation(
    facts: RequestFacts, operation: OperationRequest, result: OperationResult
) -> None:
    """What the request's log line says of the operation: never its variables."""
    text = operation.query.encode("utf-8", "replace")
    facts.document_hash = hashlib.sha256(text).hexdigest()[:16]
    if operation.operation_name is not None:  # as text that is sure to encode
        facts.operation_name = operation.operation_name[:100].encode("utf-8", "replace").decode()
    facts.document_cached = result.document_cached
    facts.operation_type = result.operation_type
    facts.cost_requested = result.cost_requested
    facts.cost_actual = result.cost_actual


async def admin_graphql(request: Request) -> Response:
    services = _services(request)
    admin_token = services.settings.admin_token
    if admin_token is None:
        return error_response(404, "Not found.", ErrorCode.NOT_FOUND)
    media_type = negotiate(request.headers.get("accept"))
    if not is_admin(request, str(admin_token)):
        return await _refused_key(request, services, media_type or JSON)
    if media_type is None:
        return not_acceptable()
    operation = await _read_body(request, services, media_type)
    if isinstance(operation, Response):
        return operation
    context = GraphContext(business=None, directory=services.directory, cursors=services.cursors)
    result = await services.executor.run_for_operator(operation, context)
    return graphql_response(result, media_type)
