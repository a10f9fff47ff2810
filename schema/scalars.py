"""Scalars serialised exactly as the Business API document shows them.

An instant is held as its output text from the moment it is read (`Instant`, a `str`):
providers mostly send timestamps already in that form, which then pass through without
a parse and a reformat per record, and ordering by instant is ordering by text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.types.scalar import ScalarDefinition

_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


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


@functools.lru_cache(maxsize=1 << 14)
def _instant_of(value: str | dt.datetime | None) -> Instant | None:
    """Remembered: the same records, so the same timestamps, come back page after page and
    request after request, and checking one costs several times as much as finding it
    here (in C, without a Python call)."""
    if isinstance(value, dt.datetime):
        return Instant.at(value)
    if not isinstance(value, str) or not value:
        return None
    # Already in the output format (most providers' timestamps): kept as it is.
    if len(value) == 24 and _CANONICAL.fullmatch(value):
        return Instant(value)
    try:
        return Instant.at(parse_datetime(value))
    except ValueError:
        return None


class Instant(str):
    """An instant in UTC, as `2026-06-01T14:32:08.000Z`. Build it with `Instant.of`."""

    __slots__ = ()

    # Instant.of(text or datetime): the instant it names; None when it names none
    # (missing, empty, not ISO 8601, or without a time zone).
    of = staticmethod(_instant_of)

    @classmethod
    def at(cls, moment: dt.datetime) -> Instant:
        return cls(format_datetime(moment))

    def to_datetime(self) -> dt.datetime:
        return parse_datetime(self)


def _parse_instant(value: object) -> Instant:
    if not isinstance(value, str):
        raise ValueError("DateTime must be a string")
    instant = Instant.of(value)
    if instant is None:
        raise ValueError("DateTime must be ISO 8601 with a time zone")
    return instant


def format_decimal(value: decimal.Decimal) -> str:
    # Not remembered: 25 and 25.00 are equal Decimals, but written differently.
    return format(value, "f")


# The graph annotates with these Python types; these definitions decide how they look.
SCALARS: dict[object, ScalarDefinition] = {
    Instant: strawberry.scalar(
        name="DateTime",
        serialize=str,
        parse_value=_parse_instant,
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
