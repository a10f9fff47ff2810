"""What every provider adapter offers the federation, and the one error hierarchy for upstreams.

An adapter serves one provider connection. All failures, whatever their cause (timeout,
refused connection, 429, 5xx, a body that is not the documented JSON), surface as
`ProviderError`; the federation turns that into UPSTREAM_UNAVAILABLE for the affected
fields, never passing the provider's text on to a client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx

from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantRecord,
    PurchaseRecord,
    RegistrationRecord,
)

T = TypeVar("T")


class ProviderError(Exception):
    """A provider call failed; `kind` names the provider, `detail` is for logs only."""

    def __init__(
        self,
        kind: str,
        detail: str,
        status: int | None = None,
        *,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.status = status
        self.transient = transient  # worth another try: throttled, 5xx, network, timeout
        self.retry_after = retry_after  # seconds the provider asked us to wait


@dataclass(frozen=True)
class ProviderPage(Generic[T]):
    """One page as the provider pages: the items, and its cursor to the next page."""

    items: tuple[T, ...]
    next_cursor: str | None


class ProviderAdapter(Protocol):
    kind: str
    connection: str  # the connection's public id, stamped into every key it returns

    async def list_participants(
        self, *, cursor: str | None, limit: int
    ) -> ProviderPage[ParticipantRecord]: ...

    async def participants_by_id(self, ids: Sequence[str]) -> dict[str, ParticipantRecord]: ...

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None]: ...

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord]]: ...

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord]]: ...

    async def activity_sessions(self, ids: Sequence[str]) -> dict[str, ActivitySessionRecord]: ...


@contextmanager
def provider_errors(kind: str) -> Iterator[None]:
    """The one place low-level failures become `ProviderError`."""
    try:
        yield
    except httpx.HTTPStatusError as error:
        status = error.response.status_code
        raise ProviderError(
            kind,
            f"HTTP {status}",
            status,
            transient=status == 429 or status >= 500,
            retry_after=_retry_after(error.response),
        ) from error
    except TimeoutError as error:
        raise ProviderError(kind, "timed out", transient=True) from error
    except httpx.HTTPError as error:
        raise ProviderError(kind, f"{type(error).__name__}", transient=True) from error
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ProviderError(kind, f"unexpected response: {type(error).__name__}") from error


def _retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (the HTTP-date form is treated as absent)."""
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def json_object(response: httpx.Response) -> dict[str, Any]:
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body
