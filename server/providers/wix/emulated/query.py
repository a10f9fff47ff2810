"""Wix's query language and paging, as the emulator applies them: `$in`/`$eq`/… filters
on dotted paths, sorting, cursor paging with cursors that carry their query, and Wix's
error envelope for bad input."""

from __future__ import annotations

import base64
import functools
import json
import operator
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from server.providers.emulated.emulation import EmulatorError

Json = dict[str, Any]
Predicate = Callable[[Json], bool]
MAX_IN_VALUES = 100
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": operator.eq,
    "$ne": operator.ne,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
    "$in": lambda value, options: value in options,
}


# Wix's application error codes, by HTTP status.
CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "RESOURCE_EXHAUSTED",
}


def application_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> EmulatorError:
    details = {"applicationError": {"code": code, "description": message, "data": {}}}
    return EmulatorError(status, {"message": message, "details": details}, headers)


def wix_error(status: int, message: str) -> EmulatorError:
    """The kit's errors (faults, routing, bad bodies) in Wix's envelope."""
    if status == 400:
        return validation_error("body", message)
    return application_error(status, CODES.get(status, "INTERNAL"), message)


def validation_error(field_path: str, message: str) -> EmulatorError:
    violation = {"field": field_path, "description": message}
    return EmulatorError(
        400, {"message": message, "details": {"validationError": {"fieldViolations": [violation]}}}
    )


# ---------------------------------------------------------------- Wix query language


def resolve(item: Any, path: str) -> Any:
    """Read a dotted field path (``contactDetails.contactId``); missing segments give None."""
    for segment in path.split("."):
        item = item.get(segment) if isinstance(item, dict) else None
    return item


def compile_filter(spec: Any, where: str, folded: frozenset[str] = frozenset()) -> Predicate:
    """Validate a Wix filter up front and turn it into a predicate over stored objects.

    Fields in ``folded`` compare case-insensitively (Wix does this for emails).
    """
    if not isinstance(spec, dict):
        raise validation_error(where, "filter must be an object")
    tests: list[Predicate] = []
    for key, condition in spec.items():
        if key in ("$and", "$or"):
            if not isinstance(condition, list):
                raise validation_error(where, f"{key} expects a list of filters")
            parts = [compile_filter(part, where, folded) for part in condition]
            tests.append(_combine(parts, any if key == "$or" else all))
        elif key.startswith("$"):
            raise validation_error(where, f"Unsupported operator {key}")
        else:
            tests.extend(_field_tests(key, condition, f"{where}.{key}", key in folded))
    return _combine(tests, all)


def _combine(parts: list[Predicate], mode: Callable[[Any], bool]) -> Predicate:
    return lambda item: mode(part(item) for part in parts)


def _field_tests(path: str, condition: Any, where: str, fold: bool) -> list[Predicate]:
    explicit = isinstance(condition, dict) and condition and all(k[:1] == "$" for k in condition)
    tests: list[Predicate] = []
    for op, operand in (condition if explicit else {"$eq": condition}).items():
        if op not in COMPARISONS or (op == "$in" and not isinstance(operand, list)):
            raise validation_error(where, f"Unsupported operator {op} or operand")
        if op == "$in" and len(operand) > MAX_IN_VALUES:
            raise validation_error(where, f"$in accepts at most {MAX_IN_VALUES} values")
        operand = _moment(operand) or _fold(operand, fold)
        tests.append(functools.partial(_matches, path, COMPARISONS[op], operand, fold))
    return tests


def _moment(value: Any) -> datetime | None:
    """A timestamp operand (``"2026-01-05T09:00:00Z"``) as a moment, so dates compare as
    dates whatever their precision or offset, the way Wix compares them."""
    if not isinstance(value, str) or not TIMESTAMP.match(value):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _matches(
    path: str, compare: Callable[[Any, Any], bool], operand: Any, fold: bool, item: Json
) -> bool:
    value = resolve(item, path)
    value = _moment(value) if isinstance(operand, datetime) else _fold(value, fold)
    try:
        return bool(compare(value, operand))
    except TypeError:  # ordering a missing field or mismatched types: no match
        return False


def _fold(value: Any, fold: bool) -> Any:
    if fold and isinstance(value, list):
        return [_fold(item, fold) for item in value]
    return value.lower() if fold and isinstance(value, str) else value


def _rules(rules: Any) -> list[tuple[str, bool]]:
    """(field path, descending) for each sort rule, validated."""
    checked = []
    for rule in rules if isinstance(rules, list) else [None]:
        if (
            not isinstance(rule, dict)
            or not isinstance(rule.get("fieldName"), str)
            or (rule.get("order", "ASC") not in ("ASC", "DESC"))
        ):
            raise validation_error("sort", "sort needs a list of fieldName and ASC or DESC")
        checked.append((rule["fieldName"], rule.get("order") == "DESC"))
    return checked


def _sort_key(item: Json, path: str) -> tuple[bool, Any]:
    value = resolve(item, path)
    return value is not None, value


def sort_items(items: Sequence[Json], rules: Any) -> list[Json]:
    """Stable multi-key sort with ``id`` as the final tie-breaker, like Wix's default order."""
    ordered = sorted(items, key=lambda item: item["id"])
    for path, descending in reversed(_rules(rules)):
        ordered.sort(key=lambda item: _sort_key(item, path), reverse=descending)
    return ordered


def _position(item: Json, rules: list[tuple[str, bool]]) -> list[Any]:
    """Where an item stands in the order: its sort values, then its id (JSON, for a cursor)."""
    return [list(_sort_key(item, path)) for path, _ in rules] + [item["id"]]


def _after(item: Json, position: list[Any], rules: list[tuple[str, bool]]) -> bool:
    """Whether `item` comes after `position` in the order `rules` and the id give."""
    for (path, descending), mark in zip(rules, position, strict=False):
        own = _sort_key(item, path)
        if own != tuple(mark):
            return bool(own < tuple(mark) if descending else own > tuple(mark))
    return bool(item["id"] > position[-1])


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def bounded_int(raw: Any, default: int, low: int, high: int, where: str) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise validation_error(where, f"expected an integer between {low} and {high}")
    return raw


def cursor_scope(
    name: str, where: str, query: Json, raw: Any, extras: Json
) -> tuple[Json, list[Any] | None]:
    """Merge a request with its cursor into (scope, position after which the page starts).

    Later pages may send only the cursor, so it carries filter (``q``), sort (``s``) and
    extras; whatever the request repeats must match, so cursors cannot switch queries. The
    cursor holds the last row's place in the order (``k``: its sort values and id), not a
    count, so rows added, changed or removed meanwhile move no row past the client: a
    ``updatedDate`` query paged while data changes misses nothing.
    """
    sent = {"q": query.get("filter"), "s": query.get("sort"), **extras}
    sent = {key: value for key, value in sent.items() if value not in (None, {}, [])}
    if not raw:
        return sent, None
    try:
        state = json.loads(base64.urlsafe_b64decode(str(raw) + "=" * (-len(str(raw)) % 4)))
        valid = isinstance(state, dict) and state.pop("e", None) == name
        valid = valid and isinstance(state.get("k"), list) and len(state["k"]) >= 1
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise validation_error(where, "invalid cursor")
    position = state.pop("k")
    if any(_canonical(state.get(key)) != _canonical(value) for key, value in sent.items()):
        raise validation_error(where, "cursor was issued for a different query")
    return state, position


def cursor_page(
    endpoint: str,
    prefix: str,
    query: Any,
    limits: tuple[int, int],
    items: Sequence[Json],
    default_sort: list[Json],
    extras: Json | None = None,
    narrow: Callable[[Json], Predicate] = lambda scope: lambda item: True,
) -> tuple[list[Json], Json, Json]:
    """Serve one cursor page: rows, Wix paging block, and the scope in force."""
    paging = (query.get("cursorPaging") or {}) if isinstance(query, dict) else None
    if not isinstance(paging, dict):
        raise validation_error(prefix, f"{prefix} and its cursorPaging must be objects")
    where = f"{prefix}.cursorPaging"
    limit = bounded_int(paging.get("limit"), limits[0], 1, limits[1], f"{where}.limit")
    scope, position = cursor_scope(
        endpoint, f"{where}.cursor", query, paging.get("cursor"), extras or {}
    )
    keep, predicate = narrow(scope), compile_filter(scope.get("q") or {}, f"{prefix}.filter")
    order = scope.get("s") or default_sort
    rules = _rules(order)
    if position is not None and len(position) != len(rules) + 1:
        raise validation_error(f"{where}.cursor", "invalid cursor")
    matches = sort_items([item for item in items if keep(item) and predicate(item)], order)
    try:
        if position is not None:
            matches = [item for item in matches if _after(item, position, rules)]
    except TypeError:  # a forged position of another type than the field's
        raise validation_error(f"{where}.cursor", "invalid cursor") from None
    rows = matches[:limit]
    metadata: Json = {"count": len(rows)}
    if len(matches) > limit:
        state = _canonical({"e": endpoint, "k": _position(rows[-1], rules), **scope}).encode()
        metadata["cursors"] = {"next": base64.urlsafe_b64encode(state).decode().rstrip("=")}
        metadata["hasNext"] = True
    return rows, metadata, scope


# ---------------------------------------------------------------- the HTTP app
