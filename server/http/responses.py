"""GraphQL-shaped HTTP error responses: every error carries a code from the closed list."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from schema.errors import ErrorCode


def error_response(
    status: int,
    message: str,
    code: ErrorCode,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code.value, **extensions}}]}
    return JSONResponse(body, status_code=status, headers=headers)


def unauthenticated() -> JSONResponse:
    return error_response(
        401,
        "A valid API key is required: send it as `Authorization: Bearer <key>`.",
        ErrorCode.UNAUTHENTICATED,
        headers={"WWW-Authenticate": 'Bearer realm="business-api"'},
    )
