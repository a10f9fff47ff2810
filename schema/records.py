"""Canonical records: what every provider adapter maps its JSON into.

The graph only ever sees these plain, frozen values, so a resolver cannot tell (and need
not care) which provider a participant came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from schema.scalars import Instant

T = TypeVar("T")


@dataclass(frozen=True)
class ParticipantKey:
    """Identifies a participant: the provider connection it lives in, and the provider's id."""

    connection: str
    provider_id: str


@dataclass(frozen=True)
class ParticipantRecord:
    key: ParticipantKey
    name: str | None
    email: str | None
    phone: str | None = None
    created_at: Instant | None = None
    source: str = ""


@dataclass(frozen=True)
class ConsentRecord:
    status: str  # one of EmailMarketingConsentStatus's values
    at: Instant | None


@dataclass(frozen=True)
class RegistrationRecord:
    provider_id: str
    status: str  # one of RegistrationStatus's values
    confirmed_at: Instant | None
    session_id: str
    created_at: Instant | None


@dataclass(frozen=True)
class ActivitySessionRecord:
    provider_id: str
    title: str | None
    starts_at: Instant | None
    ends_at: Instant | None
    capacity: int | None
    status: str | None


@dataclass(frozen=True)
class ProductRecord:
    provider_id: str
    name: str | None


@dataclass(frozen=True)
class PurchaseRecord:
    provider_id: str
    status: str  # one of PurchaseStatus's values
    price_paid: Decimal | None
    currency_code: str | None
    purchased_at: Instant | None
    product: ProductRecord
    created_at: Instant | None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a provider list: the items, and where to continue (None at the end)."""

    items: tuple[T, ...]
    next_position: str | None
