"""A record's fields as the API shows them: what change detection compares, names in an
update, and hands to deliveries.

The names are the graph's (`name`, `email`, `emailMarketingConsent`, `status`, …) and the
values are in the API's formats (GIDs, lowercase enums, `2026-06-01T14:32:08.000Z`,
decimals as text), so a change names fields a client knows and a delivery shows what a
query would. Nested objects (`emailMarketingConsent`, `activitySession`, `product`) are
one field each: a consent whose `at` moved is an `emailMarketingConsent` change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schema.gids import encode_gid
from schema.records import ConsentRecord, ParticipantRecord, PurchaseRecord, RegistrationRecord
from schema.scalars import format_decimal

Fields = Mapping[str, Any]


def participant_fields(record: ParticipantRecord, consent: ConsentRecord | None) -> Fields:
    return {
        "name": record.name,
        "email": record.email,
        "emailMarketingConsent": (
            None if consent is None else {"status": consent.status, "at": consent.at}
        ),
    }


def registration_fields(record: RegistrationRecord, connection: str) -> Fields:
    return {
        "status": record.status,
        "confirmedAt": record.confirmed_at,
        "activitySession": {
            "id": str(encode_gid("ActivitySession", connection, record.session_id))
        },
    }


def purchase_fields(record: PurchaseRecord, connection: str) -> Fields:
    return {
        "status": record.status,
        "pricePaid": None if record.price_paid is None else format_decimal(record.price_paid),
        "purchasedAt": record.purchased_at,
        "product": {"id": str(encode_gid("Product", connection, record.product.provider_id))},
    }


def changed(before: Fields, after: Fields) -> tuple[str, ...]:
    """The names of the fields whose values differ, in the graph's order."""
    return tuple(name for name in after if before.get(name) != after[name])
