"""Canonical records: what every provider adapter maps its JSON into.

The graph only ever sees these plain, frozen values, so a resolver cannot tell (and need
not care) which provider a participant came from. They are msgspec structs rather than
frozen dataclasses: the same immutable, typed, comparable values, built ten times faster
(a page of the document's query makes some 500 of them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from schema.errors import ClientError
from schema.scalars import Instant


class ParticipantKey(msgspec.Struct, frozen=True, gc=False):
    """Identifies a participant: the provider connection it lives in, and the provider's id."""

    connection: str
    provider_id: str


class ParticipantRecord(msgspec.Struct, frozen=True, gc=False):
    key: ParticipantKey
    name: str | None
    email: str | None
    phone: str | None = None
    created_at: Instant | None = None
    provider: str = ""  # the provider it was read from


class ConsentRecord(msgspec.Struct, frozen=True, gc=False):
    status: str  # one of EmailMarketingConsentStatus's values
    at: Instant | None


class RegistrationRecord(msgspec.Struct, frozen=True, gc=False):
    provider_id: str
    status: str  # one of RegistrationStatus's values
    confirmed_at: Instant | None
    session_id: str
    created_at: Instant | None


class ActivitySessionRecord(msgspec.Struct, frozen=True, gc=False):
    provider_id: str
    title: str | None
    starts_at: Instant | None
    ends_at: Instant | None
    capacity: int | None
    status: str | None
    created_at: Instant | None = None


class ProductRecord(msgspec.Struct, frozen=True, gc=False):
    provider_id: str
    name: str | None


class PurchaseRecord(msgspec.Struct, frozen=True, gc=False):
    provider_id: str
    status: str  # one of PurchaseStatus's values
    price_paid: Decimal | None
    currency_code: str | None
    purchased_at: Instant | None
    product: ProductRecord
    created_at: Instant | None


# Where a listing of a business's participants stands: for each provider connection
# (by its public id) the adapter's position in it, or None once it is finished. A
# connection not named has not been started.
Position = Mapping[str, str | None]


@dataclass(frozen=True)
class ParticipantsPage:
    """One page of participants across connections: each with the position just after it;
    where the next page starts; whether anything may follow (true while any connection
    is unfinished or failed); and the connections that failed, as client-safe errors."""

    items: tuple[tuple[ParticipantRecord, Position], ...]
    end: Position
    has_next: bool
    failures: tuple[ClientError, ...] = ()
