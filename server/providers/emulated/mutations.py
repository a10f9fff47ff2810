"""What every emulator's mutation API shares: the shape of a change, the clock its
timestamps come from, and the answer it gives.

Change tracking is tested (and shown in the demo) against emulators whose data changes
while they run. One change is one request, the same shape for every provider, in Python
(`Emulator.mutate`) and over HTTP (`POST /__mutate`, authenticated like the provider's own
endpoints):

    {"kind": "participant" | "registration" | "purchase", "op": "add" | "change" | "remove",
     "id": <the record's provider id, for change and remove>, ...what the kind needs}

The answer says what was done and names every record touched, so a test can look for each
in the provider's listings:

    {"kind", "op", "id", "at": <the change's moment>, "done": <a sentence>,
     "touched": [{"kind", "op", "id", "resource": <the provider's word for the record>}],
     "record": <the record as now served, after an add or a change>}

What a provider lacks (purchases outside stores) is a 400 in its error envelope. The field
names after `kind`, `op` and `id` are each provider's own (its statuses, its consent
field); each provider's `emulated/mutations.py` says which it takes. Timestamps come from
`Stamps`: the wall clock (replaceable in tests), strictly increasing, so a "changed since"
query never misses a change. `Intent` names the plausible changes the activity simulator
asks an emulator to propose, without knowing any provider's fields.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from server.providers.emulated.emulation import EmulatorError, ErrorFactory

Json = dict[str, Any]
KINDS = ("participant", "registration", "purchase")
OPS = ("add", "change", "remove")
MILLISECOND = timedelta(milliseconds=1)


def wall_clock() -> datetime:
    return datetime.now(UTC)


def _to_millisecond(moment: datetime) -> datetime:
    """Providers write timestamps to the millisecond: a finer stamp could print the same."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass
class Stamps:
    """The moments changes happen at: `now()` to the millisecond, but always at least a
    millisecond after the previous change and after `floor` (the newest timestamp the
    data already shows), so successive changes are strictly ordered even when the clock
    did not move, or stands before the seeded data."""

    now: Callable[[], datetime] = wall_clock
    last: datetime | None = None

    def next(self, floor: datetime | None = None) -> datetime:
        moment = _to_millisecond(self.now())
        for bound in (self.last, floor):
            if bound is not None and moment <= bound:
                moment = _to_millisecond(bound) + MILLISECOND
        self.last = moment
        return moment

    def after(self, moments: Collection[datetime]) -> None:
        """Changes come after every one of `moments` (the data set's own timestamps)."""
        newest = max(moments, default=None)
        if newest is not None and (self.last is None or newest > self.last):
            self.last = _to_millisecond(newest)


@dataclass(frozen=True)
class Change:
    """One validated change request."""

    kind: str
    op: str
    id: Any
    fields: Mapping[str, Any]
    error: ErrorFactory = field(repr=False, compare=False)

    def allow(self, *names: str) -> None:
        """Only `names` may be given (a typo is a 400, not silently ignored)."""
        if unknown := sorted(set(self.fields) - set(names)):
            allowed = ", ".join(names) or "nothing else"
            raise self.error(
                400, f"{self.kind} {self.op}: unknown field {unknown[0]!r} (takes {allowed})"
            )

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def need(self, name: str) -> Any:
        if self.fields.get(name) is None:
            raise self.error(400, f"{self.kind} {self.op} needs {name!r}")
        return self.fields[name]

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.need(name) if required else self.fields.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.error(400, f"{name!r} must be a non-empty string")
        return value.strip() if isinstance(value, str) else None

    def choice(self, name: str, options: Collection[str], default: str | None = None) -> Any:
        value = self.fields.get(name, default)
        if value is not None and value not in options:
            raise self.error(400, f"{name!r} must be one of {sorted(options)}")
        return value

    def missing(self, what: str) -> EmulatorError:
        return self.error(404, f"{what} not found")


def parse_change(body: Any, kinds: Collection[str], error: ErrorFactory, provider: str) -> Change:
    """Validate the envelope of a change; the provider checks its own fields."""
    if not isinstance(body, Mapping):
        raise error(400, "A change is a JSON object with kind and op")
    kind, op = body.get("kind"), body.get("op")
    if kind not in KINDS:
        raise error(400, f"kind must be one of {list(KINDS)}")
    if kind not in kinds:
        raise error(400, f"{provider} has no {kind}s: it takes {', '.join(kinds)}")
    if op not in OPS:
        raise error(400, f"op must be one of {list(OPS)}")
    if op != "add" and body.get("id") in (None, ""):
        raise error(400, f"{kind} {op} needs the record's id")
    if op == "add" and "id" in body:
        raise error(400, "an add is given no id: the provider assigns it")
    fields = {key: value for key, value in body.items() if key not in ("kind", "op", "id")}
    return Change(kind, op, body.get("id"), fields, error)


@dataclass
class Done:
    """What a change did, as `mutate` answers it."""

    change: Change
    id: Any
    at: str
    done: str
    touched: list[Json] = field(default_factory=list)
    record: Json | None = None

    def touch(self, kind: str, op: str, record_id: Any, resource: str) -> Done:
        self.touched.append({"kind": kind, "op": op, "id": record_id, "resource": resource})
        return self

    def answer(self) -> Json:
        answer: Json = {
            "kind": self.change.kind,
            "op": self.change.op,
            "id": self.id,
            "at": self.at,
            "done": self.done,
            "touched": self.touched,
        }
        if self.record is not None:
            answer["record"] = self.record
        return answer


class Intent(enum.StrEnum):
    """Plausible things that happen at a business, which an emulator turns into a change
    in its provider's terms (or declines, when the provider has no such thing)."""

    JOIN = "join"  # someone new signs up, registering for a session
    REGISTER = "register"  # a known participant registers for a session
    CONFIRM = "confirm"  # a registration is confirmed
    CANCEL = "cancel"  # a registration is cancelled
    CONSENT = "consent"  # marketing consent given or withdrawn
    PURCHASE = "purchase"  # something bought
    PAYMENT = "payment"  # a purchase paid, or refunded
    RENAME = "rename"  # a participant's name corrected
    REEMAIL = "reemail"  # a participant's email corrected
    UNREGISTER = "unregister"  # a registration removed
    LEAVE = "leave"  # a participant removed, with what is theirs
