"""Changes at live connections, found by comparing what a watcher read with fingerprints.

A live connection's records are read at query time, never kept; to tell what changed, the
store keeps each record's fingerprint: its GID, its participant's GID, and one keyed hash
per field (HMAC-SHA-256 under a key derived from the server's secret, cut to 16 bytes).
Per-field hashes let an update name the fields that changed; the key keeps them from
being matched against a guessed name or email. No value itself is stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import replace

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.changes.events import Action, Change, Kind, gid
from server.changes.fields import Fields
from server.changes.indexed import CHUNK
from server.changes.tracking import Tracking
from server.providers.watched import Seen
from server.store.models import RecordFingerprint
from server.store.upsert import upsert


class Fingerprinter:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"fingerprints:" + secret.encode()).digest()

    def of(self, fields: Fields) -> dict[str, str]:
        return {
            name: hmac.new(
                self._key, orjson.dumps(value, option=orjson.OPT_SORT_KEYS), hashlib.sha256
            ).hexdigest()[:32]
            for name, value in fields.items()
        }


async def compared(
    session: AsyncSession, tracking: Tracking, seen: Sequence[Seen], fingerprinter: Fingerprinter
) -> list[Change]:
    """Compare a watcher's batch with the fingerprints and keep the new ones, stamped with
    the pass's full-pass number; what was created or updated."""
    # A record read twice in a batch counts once, as last read.
    latest = {(str(s.kind), gid(s.kind, tracking.connection, s.provider_id)): s for s in seen}
    known: dict[tuple[str, str], dict[str, str]] = {}
    keys = sorted(latest)
    for start in range(0, len(keys), CHUNK):
        gids = [gid for _, gid in keys[start : start + CHUNK]]
        for row in await session.scalars(
            select(RecordFingerprint).where(
                RecordFingerprint.connection_id == tracking.connection_id,
                RecordFingerprint.record_gid.in_(gids),
            )
        ):
            known[(row.kind, row.record_gid)] = row.fields
    changes: list[Change] = []
    rows = []
    for (kind, record_gid), record in latest.items():
        prints = fingerprinter.of(record.fields)
        change = tracking.change(
            Kind(kind),
            Action.CREATED,
            record.provider_id,
            record.participant_id,
            occurred_at=record.changed_at,
            snapshot=record.fields,
        )
        before = known.get((kind, record_gid))
        if before is None:
            changes.append(change)
        elif names := tuple(name for name in prints if before.get(name) != prints[name]):
            changes.append(replace(change, action=Action.UPDATED, fields=names))
        rows.append(
            {
                "connection_id": tracking.connection_id,
                "kind": kind,
                "record_gid": record_gid,
                "participant_gid": change.participant_gid,
                "fields": prints,
                "seen_pass": tracking.full_pass,
            }
        )
    await upsert(
        session,
        RecordFingerprint,
        rows,
        ["connection_id", "kind", "record_gid"],
        ["participant_gid", "fields", "seen_pass"],
    )
    order = {Kind.PARTICIPANT: 0, Kind.REGISTRATION: 1, Kind.PURCHASE: 2}
    return sorted(changes, key=lambda c: order[c.kind])  # a participant before its records


async def removed(session: AsyncSession, tracking: Tracking) -> list[Change]:
    """At the end of a full reconciliation: forget the fingerprints it never found, each
    a `deleted` change (purchases and registrations before their participants)."""
    unseen = (RecordFingerprint.connection_id == tracking.connection_id) & (
        RecordFingerprint.seen_pass < tracking.full_pass
    )
    rows = list(
        await session.scalars(
            select(RecordFingerprint).where(unseen).order_by(RecordFingerprint.record_gid)
        )
    )
    order = {Kind.PURCHASE: 0, Kind.REGISTRATION: 1, Kind.PARTICIPANT: 2}
    changes = [
        Change(
            kind=Kind(row.kind),
            action=Action.DELETED,
            record_gid=row.record_gid,
            participant_gid=row.participant_gid,
            connection=tracking.connection,
            provider=tracking.provider,
            observed_at=tracking.observed_at,
        )
        for row in sorted(rows, key=lambda r: order[Kind(r.kind)])
    ]
    await session.execute(delete(RecordFingerprint).where(unseen))
    return changes
