"""GraphQL-shaped HTTP responses, and the choice of their media type.

Every error carries a code from the closed list. A GraphQL response is served as
`application/graphql-response+json` or `application/json`, whichever the client's `Accept`
header prefers (GraphQL-over-HTTP, "Body"); the two differ only in their status codes.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSONResponse

from schema.engine.execution import OperationResult
from schema.errors import ErrorCode, ServiceUnavailable
from server.observability.requests import current

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"

# Responses to an API call differ by `Accept` and by the key that made it.
_VARY = "Accept, Authorization"


def negotiate(accept: str | None) -> str | None:
    """The response media type for an `Accept` header, or None when it allows neither.

    The highest q-value wins; among equal q-values the more specific range, then the one
    listed first. A wildcard (`*/*`, `application/*`) selects `application/json`: generic
    clients (curl, fetch, browsers) send `*/*` and expect the legacy type, whose status
    codes are always 200 for a well-formed request; clients that understand
    `application/graphql-response+json` name it. A missing header is treated the same way,
    as the audit of the spec's legacy default asks.
    """
    if accept is None or not accept.strip():
        return JSON
    refused = set()
    ranked: list[tuple[float, int, int, str]] = []
    for index, (media_range, quality) in enumerate(accept_ranges(accept)):
        if quality <= 0:
            refused.add(media_range)
            continue
        specificity = 0 if media_range == "*/*" else 1 if media_range.endswith("/*") else 2
        ranked.append((-quality, -specificity, index, media_range))
    for *_, media_range in sorted(ranked):
        if media_range in (GRAPHQL_RESPONSE_JSON, JSON):
            return media_range
        if media_range in ("*/*", "application/*"):
            for candidate in (JSON, GRAPHQL_RESPONSE_JSON):
                if candidate not in refused:
                    return candidate
    return None


def accept_ranges(accept: str) -> list[tuple[str, float]]:
    """An `Accept` header as (lower-cased media range, q-value) pairs in listed order; a
    malformed q counts as 0."""
    ranges = []
    for item in accept.split(","):
        media_range, *parameters = (part.strip() for part in item.split(";"))
        if not media_range:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        ranges.append((media_range.lower(), quality))
    return ranges


class JSONResponse(_StarletteJSONResponse):
    """JSON encoded with orjson. A string that is not valid Unicode (a lone surrogate that
    graphql-core echoed from a document into a message) cannot be encoded as UTF-8: such
    a body is written with ASCII escapes instead of failing."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:
            return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def _with_charset(media_type: str) -> str:
    return f"{media_type}; charset=utf-8"


def error_response(
    status: int,
    message: str,
    code: ErrorCode,
    headers: dict[str, str] | None = None,
    media_type: str = JSON,
    **extensions: Any,
) -> JSONResponse:
    error = {"message": message, "extensions": {"code": code.value, **extensions}}
    body = {"errors": _quotable([error])}
    return JSONResponse(
        body, status_code=status, headers=headers, media_type=_with_charset(media_type)
    )


def unauthenticated(media_type: str = JSON) -> JSONResponse:
    return error_response(
        401,
        "A valid API key is required: send it as `Authorization: Bearer <key>`.",
        ErrorCode.UNAUTHENTICATED,
        headers={"WWW-Authenticate": 'Bearer realm="business-api"'},
        media_type=media_type,
    )


def service_unavailable(error: ServiceUnavailable, media_type: str = JSON) -> JSONResponse:
    """503: a dependency did not answer; the client may retry after `Retry-After`."""
    return error_response(
        503,
        error.message,
        ErrorCode.SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(error.retry_after)},
        media_type=media_type,
        retryAfter=error.retry_after,
    )


def not_acceptable() -> JSONResponse:
    """The spec's recommended answer when `Accept` allows no type the server speaks."""
    return error_response(
        406,
        f"Accept `{GRAPHQL_RESPONSE_JSON}` or `{JSON}`: the server answers in no other type.",
        ErrorCode.NOT_ACCEPTABLE,
        headers={"Vary": _VARY},
    )


def method_not_allowed(message: str, allow: str, media_type: str = JSON) -> JSONResponse:
    return error_response(
        405, message, ErrorCode.METHOD_NOT_ALLOWED, headers={"Allow": allow}, media_type=media_type
    )


def _status(result: OperationResult, media_type: str) -> int:
    """The status code of a GraphQL response to a well-formed request.

    With `application/json` it is always 200, so a client can tell the server's answer
    from an intermediary's. With `application/graphql-response+json` a response without
    `data` (nothing executed) must be 4xx: 400 for a document that does not parse or
    validate, a variable that does not coerce, or no operation to run. A policy refusal
    is 403, because the spec asks for 403 when "the client is not permitted to issue the
    GraphQL request": the key is authenticated and the document is valid GraphQL, but it
    asks for fields or a mutation the key is not granted. That is authorisation, not
    validation, and 403 matches the errors' `FORBIDDEN` code.
    """
    if media_type == JSON or result.executed:
        return 200
    codes = {error.get("extensions", {}).get("code") for error in result.errors}
    return 403 if codes == {ErrorCode.FORBIDDEN.value} else 400


def _quotable(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The errors with the request's id (`extensions.requestId`), for the integrator to
    quote; their codes are noted for the request's log line. (Copies: a refusal may be
    kept in the document cache and served again.)"""
    facts = current()
    if facts is None or not errors:
        return errors
    quoted = []
    for error in errors:
        extensions = {**error.get("extensions", {}), "requestId": facts.request_id}
        facts.error_codes.append(str(extensions.get("code", "")))
        quoted.append({**error, "extensions": extensions})
    return quoted


def graphql_response(result: OperationResult, media_type: str) -> JSONResponse:
    """The result as the client reads it. One that a dependency cut short (an error with
    SERVICE_UNAVAILABLE: the store did not answer while it ran) is a 503 with
    `Retry-After` whatever the media type: what data it holds is partial, and the same
    request may succeed once retried."""
    body = result.body()
    headers = {"Vary": _VARY}
    status = _status(result, media_type)
    if any(_code(error) == ErrorCode.SERVICE_UNAVAILABLE.value for error in result.errors):
        status = 503
        headers["Retry-After"] = str(ServiceUnavailable.retry_after)
    if "errors" in body:
        body["errors"] = _quotable(body["errors"])
    return JSONResponse(
        body, status_code=status, headers=headers, media_type=_with_charset(media_type)
    )


def _code(error: dict[str, Any]) -> Any:
    return error.get("extensions", {}).get("code")
