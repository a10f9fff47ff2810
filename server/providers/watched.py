"""Live providers, watched for what changed.

A live connection is read at query time, so nothing of it is kept but fingerprints; to
know what changed there, the sync worker runs a **watch pass** every
`BUSINESS_API_WATCH_INTERVAL`: the provider's watcher reads what changed since the last
pass's watermark (its "changed since" queries), and each record it yields is compared
with its fingerprint. Deletions show only in a **full pass** (every
`BUSINESS_API_FULL_PASS_INTERVAL`): the watcher yields every record the connection holds,
and a fingerprint no full pass found any more is a record gone.

A provider that can be watched gives its spec a `watcher`; `server/changes/` does the
comparing, numbering and logging.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from server.changes.events import Kind
from server.changes.fields import Fields


@dataclass(frozen=True)
class Seen:
    """One record as a watcher read it: its kind, the provider's id for it and for its
    participant (the GIDs are made from them and the connection), its fields as the API
    shows them (`server/changes/fields.py`), and when the provider says it last changed."""

    kind: Kind
    provider_id: str
    participant_id: str
    fields: Fields
    changed_at: datetime | None = None


@dataclass(frozen=True)
class Watched:
    """A batch of what a watcher read, and the watermark to resume from once it is
    compared and committed (`None`: unchanged)."""

    seen: Sequence[Seen]
    watermark: Any = None


class Watcher(Protocol):
    def changed_since(self, watermark: Any) -> AsyncIterator[Watched]:
        """What changed since `watermark` (never None: a first pass reads `everything`),
        oldest change first, a batch at a time, each with the watermark after it."""
        ...

    def everything(self) -> AsyncIterator[Watched]:
        """Every record the connection holds, a batch at a time; the last batch's
        watermark is where the next watch pass starts."""
        ...
