"""Registrations and the activity sessions they are for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from strawberry.types import Info

from schema.gids import encode_gid
from schema.records import RegistrationRecord
from schema.scalars import Instant
from schema.source import ActivitySessionKey, BusinessRecord
from schema.types.enums import RegistrationStatus, member_of
from schema.types.reading import Read, loaded, loads

_REGISTRATION_STATUS = member_of(RegistrationStatus)


async def _session_fields(
    context: Any, sessions: Sequence[ActivitySession], name: str
) -> list[Any]:
    """One field of each session's record, loaded (every session asked for in one batch)
    only when a field beyond its `id` is selected."""
    if not sessions:
        return []
    loader = context.loaders(sessions[0].business).activity_session_by_key
    records = await loaded(loader, [session.key for session in sessions])
    return [
        record if isinstance(record, BaseException) else getattr(record, name) if record else None
        for record in records
    ]


def _session(name: str) -> Read:
    return lambda context, parents, arguments, paths: _session_fields(context, parents, name)


@strawberry.type(
    description="A scheduled occurrence of an activity (a class, an appointment, an event "
    "session) that participants register for."
)
class ActivitySession:
    key: strawberry.Private[ActivitySessionKey]
    business: strawberry.Private[BusinessRecord]
    provider: strawberry.Private[str]

    def __init__(self, key: ActivitySessionKey, business: BusinessRecord, provider: str) -> None:
        # Positional (the dataclass's keyword-only one costs twice as much): one is built
        # for every registration written.
        self.key, self.business, self.provider = key, business, provider

    @strawberry.field(description="The activity session's global ID.")
    def id(self) -> strawberry.ID:
        return encode_gid("ActivitySession", self.key.connection, self.key.provider_id)

    @loads(_session("title"), description="The title shown to participants.")
    async def title(self, info: Info) -> str | None: ...

    @loads(_session("starts_at"), description="When the session starts.")
    async def starts_at(self, info: Info) -> Instant | None: ...

    @loads(_session("ends_at"), description="When the session ends.")
    async def ends_at(self, info: Info) -> Instant | None: ...

    @loads(_session("capacity"), description="How many participants the session admits.")
    async def capacity(self, info: Info) -> int | None: ...

    @loads(_session("status"), description="The session's own status at the provider, lowercase.")
    async def status(self, info: Info) -> str | None: ...

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

    def __init__(
        self, record: RegistrationRecord, connection: str, business: BusinessRecord, provider: str
    ) -> None:
        # Positional, as ActivitySession's: one is built for every registration written.
        self.record, self.connection = record, connection
        self.business, self.provider = business, provider

    @strawberry.field(description="The registration's global ID.")
    def id(self) -> strawberry.ID:
        return encode_gid("ActivityRegistration", self.connection, self.record.provider_id)

    @strawberry.field(description="Where the registration stands.")
    def status(self) -> RegistrationStatus:
        return _REGISTRATION_STATUS(self.record.status)

    @strawberry.field(
        description="When the registration was confirmed; null while it is not confirmed."
    )
    def confirmed_at(self) -> Instant | None:
        return self.record.confirmed_at

    @strawberry.field(description="The activity session the registration is for.")
    def activity_session(self) -> ActivitySession:
        # Built from the registration itself: selecting only `id` costs no upstream call.
        return ActivitySession(
            ActivitySessionKey(self.connection, self.record.session_id),
            self.business,
            self.provider,
        )
