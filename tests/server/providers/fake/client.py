"""The fake provider's adapter: a position is an offset."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from schema.records import (
    ActivitySessionRecord,
    ConsentRecord,
    ParticipantKey,
    ParticipantRecord,
    PurchaseRecord,
    RegistrationRecord,
)
from schema.scalars import Instant
from schema.source import ConnectionRecord
from server.providers.base import Listed
from server.providers.http import ProviderHttp


class Person(msgspec.Struct):
    id: str
    name: str
    created: str


class People(msgspec.Struct):
    people: list[Person]


async def probe(http: ProviderHttp, connection: ConnectionRecord) -> None:
    await http.get("/people", People, {"offset": 0, "limit": 1})


class FakeAdapter:
    provider = "fake"

    def __init__(self, http: ProviderHttp, connection: str) -> None:
        self.connection = connection
        self._http = http

    def _record(self, person: Person) -> ParticipantRecord:
        return ParticipantRecord(
            ParticipantKey(self.connection, person.id),
            person.name,
            None,
            created_at=Instant.of(person.created),
            provider=self.provider,
        )

    async def list_participants(self, *, position: str | None, limit: int) -> Listed:
        offset = int(position or 0)
        # One more than asked tells whether anything follows.
        page = await self._http.get("/people", People, {"offset": offset, "limit": limit + 1})
        people = page.people[:limit]
        more = len(page.people) > limit
        listed = [
            (self._record(p), str(offset + i + 1) if more or i + 1 < len(people) else None)
            for i, p in enumerate(people)
        ]
        return Listed(tuple(listed), listed[-1][1] if listed else None)

    async def participants_by_id(self, ids: Sequence[str]) -> dict[str, ParticipantRecord]:
        return {}

    async def consents(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[ConsentRecord | None]:
        return [None] * len(participants)

    async def registrations(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[RegistrationRecord]]:
        ids = [p.key.provider_id for p in participants]
        found = await self._http.post("/attendance", {"ids": ids}, dict[str, list[str]])
        return [
            [RegistrationRecord(f"{i}/{s}", "attended", None, s, None) for s in found.get(i, [])]
            for i in ids
        ]

    async def purchases(
        self, participants: Sequence[ParticipantRecord]
    ) -> list[Sequence[PurchaseRecord]]:
        return [[] for _ in participants]

    async def activity_sessions(self, ids: Sequence[str]) -> dict[str, ActivitySessionRecord]:
        return {}
