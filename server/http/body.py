"""Reading a GraphQL request body: bad input gets a clear 4xx, never a 500."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from schema.errors import ErrorCode
from schema.execution import OperationRequest
from server.http.responses import error_response


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it passes `limit` bytes (whatever Content-Length claimed)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> JSONResponse:
    return error_response(
        413, f"The request body is larger than {limit} bytes.", ErrorCode.PAYLOAD_TOO_LARGE
    )


def _bad(message: str) -> JSONResponse:
    return error_response(400, message, ErrorCode.BAD_REQUEST)


async def read_operation(request: Request, limit: int) -> OperationRequest | JSONResponse:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return error_response(
            415,
            "Send the operation as `Content-Type: application/json`.",
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        )
    try:
        raw = await _read_limited(request, limit)
    except ClientDisconnect:
        return _bad("The request body was not received.")
    if raw is None:
        return _too_large(limit)
    if not raw.strip():
        return _bad('The request body is empty: send {"query": "..."}.')
    try:
        body: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _bad("The request body is not valid JSON.")
    if isinstance(body, list):
        return _bad("Batched operations are not supported: send one operation per request.")
    if not isinstance(body, dict):
        return _bad("The request body must be a JSON object with a `query`.")
    query, variables, name = body.get("query"), body.get("variables"), body.get("operationName")
    if not isinstance(query, str) or not query.strip():
        return _bad("`query` must be a non-empty string.")
    if variables is not None and not isinstance(variables, dict):
        return _bad("`variables` must be a JSON object.")
    if name is not None and not isinstance(name, str):
        return _bad("`operationName` must be a string.")
    return OperationRequest(query=query, variables=variables, operation_name=name)
