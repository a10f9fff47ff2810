"""Sessionboard's wire conventions as its emulator applies them: the error envelope,
search bodies (`filters` with `createdAt`/`updatedAt` windows and `status`, `sort`,
`expand`), and `page`/`pageSize` paging in the `data` or `results` envelope."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any, Literal

from starlette.requests import Request

from server.providers.emulated.emulation import EmulatorError
from server.providers.sessionboard.emulated.dataset import STATUSES, Json
from server.providers.sessionboard.emulated.dataset import parse_timestamp as _parse_wire

Envelope = Literal["data", "results"]
ENVELOPES: tuple[Envelope, ...] = ("data", "results")
PAGE = ("page", 1, 1, 999)
PAGE_SIZE = ("pageSize", 25, 1, 100)
SORT_FIELDS = {"createdAt": "created_at", "updatedAt": "updated_at"}
SEARCH_KEYS = frozenset({"filters", "sort", "expand"})


def sessionboard_error(status: int, message: str) -> EmulatorError:
    """Sessionboard's error envelope: the status's reason phrase and a message."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    return EmulatorError(status, {"error": reason, "message": message})


def bad_request(message: str) -> EmulatorError:
    return sessionboard_error(400, message)


def not_found(message: str) -> EmulatorError:
    return sessionboard_error(404, message)


# ---------------------------------------------------------------- search bodies


@dataclass(frozen=True)
class Search:
    """A validated search body: time windows, allowed statuses and an order."""

    windows: tuple[tuple[str, datetime | None, datetime | None], ...] = ()
    statuses: frozenset[str] | None = None
    order: str | None = None
    descending: bool = False

    def apply(self, items: Sequence[Json], default: Callable[[Json], Any]) -> list[Json]:
        """Rows that pass every window (`after` and `before` are exclusive) and the status
        filter, in the requested order; ties and the default keep the default order."""
        rows = sorted((item for item in items if self._keeps(item)), key=default)
        if self.order is not None:
            field = self.order
            rows.sort(key=lambda item: _parse_wire(item[field]), reverse=self.descending)
        return rows

    def _keeps(self, item: Json) -> bool:
        if self.statuses is not None and item.get("status") not in self.statuses:
            return False
        for field, after, before in self.windows:
            moment = _parse_wire(item[field])
            if (after is not None and moment <= after) or (before is not None and moment >= before):
                return False
        return True


def parse_search(body: Json, *, statuses: bool) -> Search:
    """Validate ``{"filters", "sort", "expand"}``; anything malformed is a 400."""
    if body is None:
        return Search()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    if unknown := sorted(set(body) - SEARCH_KEYS):
        raise bad_request(f"Unknown body field {unknown[0]!r}")
    _check_expand(body.get("expand"))
    windows, allowed = _filters(body.get("filters"), statuses)
    order, descending = _sort(body.get("sort"))
    return Search(tuple(windows), allowed, order, descending)


def _filters(
    raw: Any, statuses: bool
) -> tuple[list[tuple[str, datetime | None, datetime | None]], frozenset[str] | None]:
    if raw is None:
        return [], None
    if not isinstance(raw, dict):
        raise bad_request("filters must be an object")
    known = set(SORT_FIELDS) | ({"status"} if statuses else set())
    if unknown := sorted(set(raw) - known):
        raise bad_request(f"Unknown filter {unknown[0]!r}; expected one of {sorted(known)}")
    windows = []
    for name, field in SORT_FIELDS.items():
        window = raw.get(name)
        if window is None:
            continue
        if not isinstance(window, dict) or set(window) - {"before", "after"}:
            raise bad_request(f"filters.{name} must be an object with before and/or after")
        after = _timestamp(window.get("after"), f"filters.{name}.after")
        before = _timestamp(window.get("before"), f"filters.{name}.before")
        windows.append((field, after, before))
    return windows, _statuses(raw.get("status"))


def _statuses(raw: Any) -> frozenset[str] | None:
    if raw is None:
        return None
    wanted = [raw] if isinstance(raw, str) else raw
    if not isinstance(wanted, list) or not wanted or any(item not in STATUSES for item in wanted):
        raise bad_request(f"filters.status must be one of {list(STATUSES)} or a list of them")
    return frozenset(wanted)


def _timestamp(raw: Any, where: str) -> datetime | None:
    if raw is None:
        return None
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        return _parse_wire(raw)
    except ValueError:
        raise bad_request(f"{where} must be an ISO 8601 timestamp") from None


def _sort(raw: Any) -> tuple[str | None, bool]:
    if raw is None:
        return None, False
    if (
        not isinstance(raw, dict)
        or set(raw) - {"order", "sort"}
        or raw.get("order") not in SORT_FIELDS
        or raw.get("sort", "asc") not in ("asc", "desc")
    ):
        raise bad_request('sort must be {"order": "createdAt"|"updatedAt", "sort": "asc"|"desc"}')
    return SORT_FIELDS[raw["order"]], raw.get("sort") == "desc"


def _check_expand(raw: Any) -> None:
    if raw is not None and (
        not isinstance(raw, list) or not all(isinstance(item, str) for item in raw)
    ):
        raise bad_request("expand must be a list of strings")


# ---------------------------------------------------------------- paging


def paging(request: Request) -> tuple[int, int]:
    """``page`` (1..999, default 1) and ``pageSize`` (1..100, default 25)."""
    values = []
    for name, default, low, high in (PAGE, PAGE_SIZE):
        raw = request.query_params.get(name)
        if raw is None:
            values.append(default)
            continue
        if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
            raise bad_request(f"{name} must be an integer between {low} and {high}")
        values.append(int(raw))
    return values[0], values[1]


def page_of(items: Sequence[Json], page: int, size: int, envelope: Envelope) -> Json:
    start = (page - 1) * size
    pagination = {
        "currentPage": page,
        "pageSize": size,
        "totalPages": math.ceil(len(items) / size),
        "totalResults": len(items),
    }
    return {envelope: list(items[start : start + size]), "pagination": pagination}
