"""Enums, lowercase as the Business API document's responses show them."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypeVar

import strawberry

E = TypeVar("E", bound=Enum)


def member_of(enum: type[E]) -> Callable[[str], E]:
    """`enum(value)` without Enum's call machinery: it runs once per record written."""
    return {m.value: m for m in enum}.__getitem__


class _Enum(Enum):
    """Members are singletons, equal only to themselves: hashed by identity too, in C
    (Enum's own hash is a Python call, and a member is looked up per record written)."""

    __hash__ = object.__hash__


@strawberry.enum(description="Where a participant's registration for an activity session stands.")
class RegistrationStatus(_Enum):
    confirmed = strawberry.enum_value("confirmed", description="The place is confirmed.")
    pending = strawberry.enum_value("pending", description="Awaiting confirmation or payment.")
    cancelled = strawberry.enum_value("cancelled", description="Cancelled by either side.")
    declined = strawberry.enum_value("declined", description="Declined by the business.")
    waitlisted = strawberry.enum_value("waitlisted", description="On the waiting list.")
    attended = strawberry.enum_value("attended", description="The participant took part.")


@strawberry.enum(description="Whether a participant agreed to receive marketing email.")
class EmailMarketingConsentStatus(_Enum):
    granted = strawberry.enum_value("granted", description="The participant opted in.")
    denied = strawberry.enum_value("denied", description="The participant opted out.")
    pending = strawberry.enum_value("pending", description="Opt-in asked, not yet confirmed.")
    unknown = strawberry.enum_value("unknown", description="The provider has no answer on record.")


@strawberry.enum(description="Where the payment of a product purchase stands.")
class PurchaseStatus(_Enum):
    paid = strawberry.enum_value("paid", description="Paid in full.")
    pending = strawberry.enum_value("pending", description="Not paid yet.")
    partially_paid = strawberry.enum_value("partially_paid", description="Paid in part.")
    refunded = strawberry.enum_value("refunded", description="Refunded in full.")
    partially_refunded = strawberry.enum_value(
        "partially_refunded", description="Refunded in part."
    )
    cancelled = strawberry.enum_value("cancelled", description="The order was cancelled.")
