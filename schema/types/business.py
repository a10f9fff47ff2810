"""The business, and the operator-only records around it (keys, connections)."""

from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from schema.errors import BadUserInput
from schema.gids import business_gid
from schema.scalars import Instant
from schema.source import ApiKeyRecord, BusinessRecord, ConnectionRecord
from schema.types.pagination import (
    DEFAULT_PAGE_SIZE,
    After,
    Connection,
    First,
    build_connection,
    check_first,
    given_cursor,
)
from schema.types.participant import BusinessParticipant

PARTICIPANTS = "participants"


@strawberry.type(description="A server-to-server API key of a business. The secret is never shown.")
class ApiKey:
    record: strawberry.Private[ApiKeyRecord]

    @strawberry.field(
        description="The key's public id: the part after `sk_` and before the secret."
    )
    def key_id(self) -> str:
        return self.record.key_id

    @strawberry.field(description="A name for people: what the key is for.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="The scopes the key was minted with.")
    def scopes(self) -> list[str]:
        return list(self.record.scopes)

    @strawberry.field(description="When the key was created.")
    def created_at(self) -> Instant:
        return Instant.at(self.record.created_at)

    @strawberry.field(description="When the key was last used (written behind, so approximate).")
    def last_used_at(self) -> Instant | None:
        return Instant.of(self.record.last_used_at)

    @strawberry.field(description="When the key was revoked; null while it is active.")
    def revoked_at(self) -> Instant | None:
        return Instant.of(self.record.revoked_at)

    @strawberry.field(description="When the key stops working; null when it does not expire.")
    def expires_at(self) -> Instant | None:
        return Instant.of(self.record.expires_at)


@strawberry.type(description="A link from a business to one of its platforms (Wix, …).")
class ProviderConnection:
    record: strawberry.Private[ConnectionRecord]

    @strawberry.field(description="The connection's public id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.public_id)

    @strawberry.field(description="The platform: `wix`, `sessionboard`, `sessions` or `boxpressd`.")
    def kind(self) -> str:
        return self.record.kind

    @strawberry.field(description="`live` (read at query time) or `indexed` (crawled).")
    def mode(self) -> str:
        return self.record.mode

    @strawberry.field(description="The platform API's base URL.")
    def base_url(self) -> str:
        return self.record.base_url

    @strawberry.field(description="The business's account at the platform (e.g. a Wix site id).")
    def account_id(self) -> str:
        return self.record.account_id

    @strawberry.field(description="When the connection was added.")
    def created_at(self) -> Instant:
        return Instant.at(self.record.created_at)


@strawberry.type(description="A business: the studio, venue or organiser whose data you read.")
class Business:
    record: strawberry.Private[BusinessRecord]

    @strawberry.field(description="The business's global ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(business_gid(self.record.public_id))

    @strawberry.field(description="The business's display name.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="The business's handle, as in `/@<handle>/api/graphql`.")
    def handle(self) -> str:
        return self.record.handle

    @strawberry.field(description="When the business was created.")
    def created_at(self) -> Instant:
        return Instant.at(self.record.created_at)

    @strawberry.field(
        description="Everyone the business knows across its connected platforms, platform by "
        "platform in the order they were connected, in a stable order within each."
    )
    async def participants(
        self, info: Info, first: First = DEFAULT_PAGE_SIZE, after: After = UNSET
    ) -> Connection[BusinessParticipant]:
        first = check_first(first)
        after = given_cursor(after)
        cursors = info.context.cursors
        business = self.record.public_id
        position = None
        if after is not None:
            position = cursors.decode(after, business=business, connection=PARTICIPANTS)
            if not isinstance(position, str):
                raise BadUserInput("The `after` cursor is not valid for this connection.")
        source = info.context.loaders(self.record).source
        page = await source.participants(first=first, after=position)
        return build_connection(
            [
                (
                    BusinessParticipant(record=record, business=self.record),
                    cursors.encode(business=business, connection=PARTICIPANTS, position=after_it),
                )
                for record, after_it in page.items
            ],
            has_next_page=page.next_position is not None,
            has_previous_page=after is not None,
        )

    @strawberry.field(description="The business's platform connections, in creation order.")
    async def connections(self, info: Info) -> list[ProviderConnection]:
        records = await info.context.directory.connections(self.record)
        return [ProviderConnection(record=record) for record in records]

    @strawberry.field(description="The business's API keys, revoked ones included.")
    async def api_keys(self, info: Info) -> list[ApiKey]:
        records = await info.context.directory.api_keys(self.record)
        return [ApiKey(record=record) for record in records]
