"""Scalars serialised exactly as the Business API document shows them."""

from __future__ import annotations

import datetime as dt
import decimal

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.types.scalar import ScalarDefinition


def format_datetime(value: dt.datetime) -> str:
    """`2026-06-01T14:32:08.000Z`: UTC, milliseconds, `Z`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs a time zone")
    return parsed.astimezone(dt.UTC)


def format_decimal(value: decimal.Decimal) -> str:
    return format(value, "f")


# The graph annotates with the plain Python types; these definitions decide how they look.
SCALARS: dict[object, ScalarDefinition] = {
    dt.datetime: strawberry.scalar(
        name="DateTime",
        serialize=format_datetime,
        parse_value=parse_datetime,
        description="An instant in UTC, as ISO 8601 with milliseconds: `2026-06-01T14:32:08.000Z`.",
    ),
    decimal.Decimal: strawberry.scalar(
        name="Decimal",
        serialize=format_decimal,
        parse_value=decimal.Decimal,
        description='An exact decimal number, serialised as a string: `"25.00"`.',
    ),
}
CONFIG = StrawberryConfig(scalar_map=SCALARS)
