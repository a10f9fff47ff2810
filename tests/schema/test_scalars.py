"""Scalars serialised exactly as the Business API document shows them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from schema.scalars import Instant, format_datetime, format_decimal, parse_datetime

UTC = dt.UTC


def test_a_utc_instant_is_written_with_milliseconds_and_z():
    value = dt.datetime(2026, 6, 1, 14, 32, 8, tzinfo=UTC)
    assert format_datetime(value) == "2026-06-01T14:32:08.000Z"


@pytest.mark.parametrize(
    ("microsecond", "written"),
    [(1, "000"), (999, "000"), (1000, "001"), (123456, "123"), (999999, "999"), (500000, "500")],
)
def test_microseconds_are_truncated_to_milliseconds(microsecond, written):
    value = dt.datetime(2026, 6, 1, 14, 32, 8, microsecond, tzinfo=UTC)
    assert format_datetime(value) == f"2026-06-01T14:32:08.{written}Z"


def test_truncation_never_rounds_up_into_the_next_second():
    value = dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert format_datetime(value) == "2026-12-31T23:59:59.999Z"


def test_another_time_zone_is_converted_to_utc():
    paris_summer = dt.timezone(dt.timedelta(hours=2))
    value = dt.datetime(2026, 6, 1, 16, 32, 8, 250000, tzinfo=paris_summer)
    assert format_datetime(value) == "2026-06-01T14:32:08.250Z"


def test_a_conversion_to_utc_can_change_the_date():
    new_york = dt.timezone(dt.timedelta(hours=-5))
    value = dt.datetime(2026, 12, 31, 21, 0, tzinfo=new_york)
    assert format_datetime(value) == "2027-01-01T02:00:00.000Z"


def test_a_naive_datetime_is_taken_as_utc():
    assert format_datetime(dt.datetime(2026, 6, 1, 14, 32, 8)) == "2026-06-01T14:32:08.000Z"


def test_a_written_instant_reads_back_as_the_same_instant():
    value = dt.datetime(2026, 6, 1, 14, 32, 8, 123000, tzinfo=UTC)
    assert parse_datetime(format_datetime(value)) == value


def test_an_offset_instant_is_read_as_utc():
    parsed = parse_datetime("2026-06-01T16:32:08.000+02:00")
    assert parsed == dt.datetime(2026, 6, 1, 14, 32, 8, tzinfo=UTC)
    assert parsed.utcoffset() == dt.timedelta(0)


def test_an_instant_without_a_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        parse_datetime("2026-06-01T14:32:08")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Decimal("25.00"), "25.00"),
        (Decimal("0.10"), "0.10"),
        (Decimal("-3.5"), "-3.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1.5E-7"), "0.00000015"),
        (Decimal("12345678901234567890.12"), "12345678901234567890.12"),
    ],
)
def test_a_decimal_is_written_in_plain_notation_keeping_its_scale(value, written):
    assert format_decimal(value) == written


def test_equal_decimals_of_different_scales_are_written_each_as_it_is():
    assert [format_decimal(Decimal(text)) for text in ("25.00", "25", "25.0")] == [
        "25.00",
        "25",
        "25.0",
    ]


@pytest.mark.parametrize(
    ("value", "instant"),
    [
        ("2026-06-01T14:32:08.000Z", "2026-06-01T14:32:08.000Z"),
        ("2026-06-01T14:32:08Z", "2026-06-01T14:32:08.000Z"),
        ("2026-06-01T16:32:08.5+02:00", "2026-06-01T14:32:08.500Z"),
        (dt.datetime(2026, 6, 1, 14, 32, 8, tzinfo=UTC), "2026-06-01T14:32:08.000Z"),
        ("2026-06-01T14:32:08", None),  # no time zone
        ("not a time", None),
        ("", None),
        (None, None),
    ],
)
def test_an_instant_is_read_the_same_the_first_time_and_every_time_after(value, instant):
    assert [Instant.of(value) for _ in range(3)] == [instant] * 3
