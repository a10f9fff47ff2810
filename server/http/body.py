"""Reading a GraphQL-over-HTTP request, from a POST body or a GET query string.

Anything that is not a well-formed request gets a clear 4xx, never a 500: 415 for a body
that is not UTF-8 JSON, 413 past the size limit, 408 for a body that does not arrive in
time, 400 for the rest (malformed JSON, a batch, a `query` that is not a string,
`variables` or `extensions` that are not objects). The spec asks for 400 here whichever
media type the response uses.

JSON is decoded with orjson: it refuses nesting deeper than 1,024 levels (the standard
library would recurse until `RecursionError`), strings that are not valid Unicode (lone
surrogates) and anything but UTF-8.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from schema.engine.execution import OperationRequest
from schema.errors import ErrorCode
from server.http.responses import JSON, error_response

# UTF-16 and UTF-32 bodies start with a byte order mark or hold NUL bytes around ASCII
# characters; a UTF-8 byte order mark is refused too (JSON text must not carry one).
_NOT_UTF8_STARTS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")


def _is_utf8_text(raw: bytes) -> bool:
    return not raw.startswith(_NOT_UTF8_STARTS) and b"\x00" not in raw


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


def _is_json_utf8(content_type: str) -> bool:
    """`application/json`, in any case, with no charset or a UTF-8 one (the spec's default)."""
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    if media_type != "application/json":
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            return False
    return True


def _operation(fields: Mapping[str, Any], media_type: str) -> OperationRequest | JSONResponse:
    """The request parameters, checked for shape; `variables` and `extensions` decoded."""

    def bad(message: str) -> JSONResponse:
        return error_response(400, message, ErrorCode.BAD_REQUEST, media_type=media_type)

    query, variables = fields.get("query"), fields.get("variables")
    name, extensions = fields.get("operationName"), fields.get("extensions")
    if not isinstance(query, str) or not query.strip():
        return bad("`query` must be a non-empty string.")
    if variables is not None and not isinstance(variables, dict):
        return bad("`variables` must be a JSON object.")
    if extensions is not None and not isinstance(extensions, dict):
        return bad("`extensions` must be a JSON object.")
    if name is not None and not isinstance(name, str):
        return bad("`operationName` must be a string.")
    # The spec: an empty operation name is the same as none.
    return OperationRequest(query=query, variables=variables, operation_name=name or None)


def _not_utf8_json(media_type: str) -> JSONResponse:
    return error_response(
        415,
        "Send the operation as `Content-Type: application/json` in UTF-8 (no byte order mark).",
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        media_type=media_type,
    )


async def read_operation(
    request: Request, limit: int, timeout: float, media_type: str = JSON
) -> OperationRequest | JSONResponse:
    """The operation in a POST body, read within `timeout` seconds; error responses use
    the negotiated `media_type`."""

    def bad(message: str) -> JSONResponse:
        return error_response(400, message, ErrorCode.BAD_REQUEST, media_type=media_type)

    if not _is_json_utf8(request.headers.get("content-type", "")):
        return _not_utf8_json(media_type)
    try:
        async with asyncio.timeout(timeout):
            raw = await _read_limited(request, limit)
    except ClientDisconnect:
        return bad("The request body was not received.")
    except TimeoutError:
        return error_response(
            408,
            f"The request body did not arrive within {timeout:g} seconds.",
            ErrorCode.BAD_REQUEST,
            headers={"Connection": "close"},
            media_type=media_type,
        )
    if raw is None:
        return error_response(
            413,
            f"The request body is larger than {limit} bytes.",
            ErrorCode.PAYLOAD_TOO_LARGE,
            media_type=media_type,
        )
    if not raw.strip():
        return bad('The request body is empty: send {"query": "..."}.')
    if not _is_utf8_text(raw):
        return _not_utf8_json(media_type)
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return bad(f"The request body is not valid JSON{_why(error)}.")
    if isinstance(body, list):
        return bad("Batched operations are not supported: send one operation per request.")
    if not isinstance(body, dict):
        return bad("The request body must be a JSON object with a `query`.")
    return _operation(body, media_type)


def read_query_string(request: Request, media_type: str = JSON) -> OperationRequest | JSONResponse:
    """The operation in a GET query string: `variables` and `extensions` are JSON text."""
    params = request.query_params
    fields: dict[str, Any] = {"query": params.get("query")}
    if "operationName" in params:
        fields["operationName"] = params["operationName"]
    for name in ("variables", "extensions"):
        text = params.get(name)
        if text is None or text == "":
            continue
        try:
            fields[name] = orjson.loads(text)
        except orjson.JSONDecodeError:
            return error_response(
                400,
                f"`{name}` must be a URL-encoded JSON object.",
                ErrorCode.BAD_REQUEST,
                media_type=media_type,
            )
    return _operation(fields, media_type)


def _why(error: orjson.JSONDecodeError) -> str:
    """The reasons worth telling a client, in our words (never its input echoed back)."""
    message = str(error)
    if "depth limit" in message:
        return ": it nests deeper than 1,024 levels"
    if "surrogate" in message:
        return ": a string is not valid Unicode (a lone surrogate)"
    if "UTF-8" in message:
        return ": it is not valid UTF-8"
    return ""
