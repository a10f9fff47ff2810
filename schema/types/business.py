"""The business, and the operator-only records around it (keys, connections)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from schema.errors import BadUserInput, ClientError
from schema.gids import business_gid
from schema.records import Position
from schema.scalars import Instant
from schema.source import ApiKeyRecord, BusinessRecord, ConnectionRecord
from schema.types.changes import ChangeEvent
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
from schema.types.reading import Path, loads, partial_error
from schema.types.webhooks import WebhookSubscription

PARTICIPANTS = "participants"
CHANGES = "changes"


def check_position(position: Any) -> Position:
    """A participants position from a cursor: each connection's place (the adapter's
    text) or None for a finished connection."""
    valid = isinstance(position, dict) and all(
        isinstance(c, str) and (p is None or isinstance(p, str)) for c, p in position.items()
    )
    if not valid:
        raise BadUserInput("The `after` cursor is not valid for this list.")
    return position  # type: ignore[no-any-return]


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

    @strawberry.field(description="The platform, by its provider name (`wix`, …).")
    def provider(self) -> str:
        return self.record.provider

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

    @loads(
        # Looked up when read: the read function is defined below the type it reads for.
        lambda context, parents, arguments, paths: read_participants(
            context, parents, arguments, paths
        ),
        description="Everyone the business knows across its connected platforms, platform by "
        "platform in the order they were connected, in a stable order within each.",
    )
    async def participants(
        self, info: Info, first: First = DEFAULT_PAGE_SIZE, after: After = UNSET
    ) -> Connection[BusinessParticipant]: ...

    @strawberry.field(description="The business's platform connections, in creation order.")
    async def connections(self, info: Info) -> list[ProviderConnection]:
        records = await info.context.directory.connections(self.record)
        return [ProviderConnection(record=record) for record in records]

    @strawberry.field(description="The business's API keys, revoked ones included.")
    async def api_keys(self, info: Info) -> list[ApiKey]:
        records = await info.context.directory.api_keys(self.record)
        return [ApiKey(record=record) for record in records]

    @strawberry.field(
        description="The endpoints that receive the business's change events, in creation order."
    )
    async def webhook_subscriptions(self, info: Info) -> list[WebhookSubscription]:
        records = await info.context.directory.webhook_subscriptions(self.record)
        return [WebhookSubscription(record=record) for record in records]

    @strawberry.field(
        description="What appeared, changed or went away at the business's platforms, oldest "
        "first; the cursor of the last event read resumes after it."
    )
    async def changes(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = UNSET,
        topics: list[str] | None = None,
    ) -> Connection[ChangeEvent]:
        cursors, public_id = info.context.cursors, self.record.public_id
        given = given_cursor(after)
        seq = 0
        if given is not None:
            seq = cursors.decode(given, business=public_id, list_name=CHANGES)
            if not isinstance(seq, int) or seq < 0:
                raise BadUserInput("The `after` cursor is not valid for this list.")
        records, more = await info.context.directory.changes(
            self.record, after=seq, first=check_first(first), topics=topics or None
        )
        return build_connection(
            [ChangeEvent(record=record) for record in records],
            [record.seq for record in records],
            encode=lambda p: cursors.encode(business=public_id, list_name=CHANGES, position=p),
            has_next_page=more,
            has_previous_page=given is not None,
            end=seq,
        )


async def read_participants(
    context: Any,
    businesses: Sequence[Business],
    arguments: Mapping[str, Any],
    paths: Sequence[Path],
) -> list[Connection[BusinessParticipant] | BaseException]:
    """A page of each business's participants (there is one business per request)."""
    pages: list[Connection[BusinessParticipant] | BaseException] = []
    for business, path in zip(businesses, paths, strict=True):
        try:
            pages.append(await _participants(context, business, arguments, path))
        except ClientError as error:
            pages.append(error)
    return pages


async def _participants(
    context: Any, business: Business, arguments: Mapping[str, Any], path: Path
) -> Connection[BusinessParticipant]:
    """A page across the business's connections; a connection that fails is an error at
    `path`, and the page goes on from the others."""
    first = check_first(arguments.get("first", DEFAULT_PAGE_SIZE))
    after = given_cursor(arguments.get("after"))
    cursors = context.cursors
    public_id = business.record.public_id
    position = None
    if after is not None:
        position = check_position(cursors.decode(after, business=public_id, list_name=PARTICIPANTS))
    source = context.loaders(business.record).source
    page = await source.participants(first=first, after=position)
    for failure in page.failures:
        partial_error(context, path, failure)
    return build_connection(
        [BusinessParticipant(record=record, business=business.record) for record, _ in page.items],
        [position_after for _, position_after in page.items],
        encode=lambda p: cursors.encode(business=public_id, list_name=PARTICIPANTS, position=p),
        has_next_page=page.has_next,
        has_previous_page=after is not None,
        end=page.end if page.has_next else None,
    )
