"""Registrations and the activity sessions they are for."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.gids import encode_gid
from schema.records import ActivitySessionRecord, RegistrationRecord
from schema.scalars import Instant
from schema.source import ActivitySessionKey, BusinessRecord
from schema.types.enums import RegistrationStatus


@strawberry.type(
    description="A scheduled occurrence of an activity (a class, an appointment, an event "
    "session) that participants register for."
)
class ActivitySession:
    key: strawberry.Private[ActivitySessionKey]
    business: strawberry.Private[BusinessRecord]
    provider: strawberry.Private[str]

    @strawberry.field(description="The activity session's global ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(
            encode_gid("ActivitySession", self.key.connection, self.key.provider_id)
        )

    async def _record(self, info: Info) -> ActivitySessionRecord | None:
        loader = info.context.loaders(self.business).activity_session_by_key
        return await loader.load(self.key)

    @strawberry.field(description="The title shown to participants.")
    async def title(self, info: Info) -> str | None:
        record = await self._record(info)
        return record.title if record else None

    @strawberry.field(description="When the session starts.")
    async def starts_at(self, info: Info) -> Instant | None:
        record = await self._record(info)
        return record.starts_at if record else None

    @strawberry.field(description="When the session ends.")
    async def ends_at(self, info: Info) -> Instant | None:
        record = await self._record(info)
        return record.ends_at if record else None

    @strawberry.field(description="How many participants the session admits.")
    async def capacity(self, info: Info) -> int | None:
        record = await self._record(info)
        return record.capacity if record else None

    @strawberry.field(description="The session's own status at the provider, lowercase.")
    async def status(self, info: Info) -> str | None:
        record = await self._record(info)
        return record.status if record else None

    @strawberry.field(
        name="provider", description="The platform the session is scheduled in (`wix`, …)."
    )
    def provider_name(self) -> str:
        return self.provider


@strawberry.type(description="A participant's registration for one activity session.")
class ActivityRegistration:
    record: strawberry.Private[RegistrationRecord]
    connection: strawberry.Private[str]
    business: strawberry.Private[BusinessRecord]
    provider: strawberry.Private[str]

    @strawberry.field(description="The registration's global ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(
            encode_gid("ActivityRegistration", self.connection, self.record.provider_id)
        )

    @strawberry.field(description="Where the registration stands.")
    def status(self) -> RegistrationStatus:
        return RegistrationStatus(self.record.status)

    @strawberry.field(
        description="When the registration was confirmed; null while it is not confirmed."
    )
    def confirmed_at(self) -> Instant | None:
        return self.record.confirmed_at

    @strawberry.field(description="The activity session the registration is for.")
    def activity_session(self) -> ActivitySession:
        # Built from the registration itself: selecting only `id` costs no upstream call.
        return ActivitySession(
            key=ActivitySessionKey(self.connection, self.record.session_id),
            business=self.business,
            provider=self.provider,
        )
