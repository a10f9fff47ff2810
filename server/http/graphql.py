"""The GraphQL endpoints: `/@{handle}/api/graphql` for API keys, `/admin/api/graphql` for
the operator."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from schema.context import GraphContext
from schema.errors import ErrorCode
from server.auth import authenticate_key, is_admin
from server.directory import business_record
from server.http.body import read_operation
from server.http.responses import error_response, unauthenticated
from server.services import Services


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def business_graphql(request: Request) -> Response:
    services = _services(request)
    handle = request.path_params["handle"]
    if request.method != "POST":
        return error_response(
            405,
            "Send GraphQL operations with POST.",
            ErrorCode.METHOD_NOT_ALLOWED,
            headers={"Allow": "POST"},
        )
    found = await authenticate_key(request, services.store, handle)
    if found is None:
        return unauthenticated()
    business, key = found
    services.key_use.saw(key.key_id)
    operation = await read_operation(request, services.settings.max_body_bytes)
    if isinstance(operation, Response):
        return operation
    context = GraphContext(
        business=business_record(business),
        directory=services.directory,
        cursors=services.cursors,
    )
    documentation = str(request.base_url).rstrip("/") + f"/@{handle}/api/reference"
    result = await services.executor.run_for_key(
        operation, context, frozenset(key.scopes), documentation
    )
    return JSONResponse(result.body())


async def admin_graphql(request: Request) -> Response:
    services = _services(request)
    admin_token = services.settings.admin_token
    if admin_token is None:
        return error_response(404, "Not found.", ErrorCode.NOT_FOUND)
    if not is_admin(request, str(admin_token)):
        return unauthenticated()
    operation = await read_operation(request, services.settings.max_body_bytes)
    if isinstance(operation, Response):
        return operation
    context = GraphContext(business=None, directory=services.directory, cursors=services.cursors)
    result = await services.executor.run_for_operator(operation, context)
    return JSONResponse(result.body())
