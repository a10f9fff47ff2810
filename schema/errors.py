"""The closed list of error codes a client can see, and the exceptions that carry them.

Every error that leaves the server has `extensions.code` from `ErrorCode`; anything else is
masked as INTERNAL_SERVER_ERROR before it reaches a client.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from graphql import GraphQLError


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_REQUEST = "BAD_REQUEST"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
    MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
    MAX_TOKENS_EXCEEDED = "MAX_TOKENS_EXCEEDED"
    MAX_FIELDS_EXCEEDED = "MAX_FIELDS_EXCEEDED"
    MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"
    TIMEOUT = "TIMEOUT"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class ClientError(GraphQLError):
    """A GraphQL error whose message is safe to show and whose code is from the closed list."""

    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code.value, **extensions})


class BadUserInput(ClientError):
    code = ErrorCode.BAD_USER_INPUT


class NotFound(ClientError):
    code = ErrorCode.NOT_FOUND


class UpstreamUnavailable(ClientError):
    """A provider connection did not answer usefully; the message never carries the
    provider's text. `extensions` name the provider and the connection's public id, and
    `retryAfter` (whole seconds) when it is known when the connection will be tried again."""

    code = ErrorCode.UPSTREAM_UNAVAILABLE

    def __init__(self, provider: str, connection: str, retry_after: int | None = None) -> None:
        when = {} if retry_after is None else {"retryAfter": retry_after}
        super().__init__(
            f"The {provider} connection {connection} is unavailable; what it serves is "
            "missing here.",
            provider=provider,
            connection=connection,
            **when,
        )


class ServiceUnavailable(ClientError):
    """Something the server itself depends on (its store) did not answer: nothing is
    wrong with the request, and it may succeed once retried. Answered with HTTP 503 and
    `Retry-After`; the message never says which dependency or why."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    retry_after = 5  # seconds: a short outage (a database restarting) is over by then

    def __init__(self) -> None:
        super().__init__(
            f"The service cannot answer for a moment: retry after {self.retry_after} seconds.",
            retryAfter=self.retry_after,
        )
