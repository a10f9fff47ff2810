"""The whole internal graph: the root types, built from the domain types.

This is the graph the operator reaches. What an API key reaches is a slice of it, decided
by the policy file (`schema.policy`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from schema.errors import BadUserInput, NotFound
from schema.gids import GlobalId, decode_gid
from schema.records import ParticipantKey
from schema.scalars import CONFIG, Instant
from schema.source import ActivitySessionKey, BusinessRecord
from schema.types.activity import ActivitySession
from schema.types.business import ApiKey, Business, ProviderConnection
from schema.types.participant import BusinessParticipant
from schema.types.reading import loads
from schema.types.webhooks import WebhookSubscription, WebhookSubscriptionWithSecret

Node = Annotated[
    Business | BusinessParticipant | ActivitySession,
    strawberry.union("Node", description="Anything that can be fetched again by its global ID."),
]


async def _business_of(info: Info, gid: str, argument: str = "businessId") -> BusinessRecord:
    decoded = decode_gid(gid)
    if decoded.type_name != "Business":
        raise BadUserInput("The ID is not a Business ID.", argumentName=argument)
    business = await info.context.directory.business(decoded.provider_id)
    if business is None:
        raise NotFound("No business has this ID.")
    return business


async def _active_business(context: Any) -> list[Business | None]:
    """The key's own business: it comes from the key, never from the request."""
    return [Business(record=context.business) if context.business else None]


NodeValue = Business | BusinessParticipant | ActivitySession | None


async def _nodes(info: Info, gids: list[str]) -> list[NodeValue]:
    """Objects by their global IDs, in order. The businesses and connections they belong to
    are looked up first, then every object is loaded at once, so the loaders batch them:
    five participants of one connection cost one provider lookup."""
    decoded = [decode_gid(gid) for gid in gids]
    directory = info.context.directory
    owners: dict[str, BusinessRecord | None] = {}
    providers: dict[str, str] = {}
    for connection in dict.fromkeys(d.connection for d in decoded if d.type_name != "Business"):
        owners[connection] = business = await directory.business_of_connection(connection)
        if business is not None:
            for record in await directory.connections(business):
                providers[record.public_id] = record.provider

    async def load(gid: GlobalId) -> NodeValue:
        if gid.type_name == "Business":
            business = await directory.business(gid.provider_id)
            return Business(record=business) if business else None
        owner = owners.get(gid.connection)
        if owner is None:
            return None
        loaders = info.context.loaders(owner)
        if gid.type_name == "BusinessParticipant":
            record = await loaders.participant_by_key.load(
                ParticipantKey(gid.connection, gid.provider_id)
            )
            return BusinessParticipant(record=record, business=owner) if record else None
        if gid.type_name == "ActivitySession":
            key = ActivitySessionKey(gid.connection, gid.provider_id)
            session = await loaders.activity_session_by_key.load(key)
            provider = providers.get(gid.connection, "")
            return ActivitySession(key, owner, provider) if session else None
        raise BadUserInput(f"{gid.type_name} IDs cannot be fetched with `node`.")

    return list(await asyncio.gather(*(load(gid) for gid in decoded)))


@strawberry.type(description="The entry points of the graph.")
class Query:
    @loads(
        lambda context, parents, arguments, paths: _active_business(context),
        description="The business the API key belongs to. Every read starts here; no argument "
        "anywhere selects another business.",
    )
    def active_business(self, info: Info) -> Business | None: ...

    @strawberry.field(description="Every business on this server.")
    async def businesses(self, info: Info) -> list[Business]:
        return [Business(record=b) for b in await info.context.directory.businesses()]

    @strawberry.field(description="Fetch an object again by its global ID.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        [found] = await _nodes(info, [id])
        return found

    @strawberry.field(description="Fetch several objects by their global IDs, in order.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        return await _nodes(info, list(ids))  # type: ignore[return-value]


@strawberry.type(description="A newly minted API key. The full key is shown this once only.")
class CreateApiKeyPayload:
    api_key: ApiKey = strawberry.field(description="The key's record.")
    key: str = strawberry.field(description="The full key, `sk_<key id>_<secret>`: store it now.")


@strawberry.type(
    description="Operator actions: key management, platform connections and webhook subscriptions."
)
class Mutation:
    @strawberry.mutation(description="Mint an API key for a business with the given scopes.")
    async def create_api_key(
        self,
        info: Info,
        business_id: strawberry.ID,
        name: str,
        scopes: list[str],
        expires_at: Instant | None = None,
    ) -> CreateApiKeyPayload:
        business = await _business_of(info, business_id)
        record, full_key = await info.context.directory.create_api_key(
            business,
            name=name,
            scopes=scopes,
            expires_at=expires_at.to_datetime() if expires_at else None,
        )
        return CreateApiKeyPayload(api_key=ApiKey(record=record), key=full_key)

    @strawberry.mutation(description="Revoke an API key; it stops working at once.")
    async def revoke_api_key(self, info: Info, key_id: str) -> ApiKey:
        return ApiKey(record=await info.context.directory.revoke_api_key(key_id))

    @strawberry.mutation(description="Connect a business to one of its platforms.")
    async def connect_provider(
        self,
        info: Info,
        business_id: strawberry.ID,
        provider: str,
        base_url: str,
        account_id: str,
        credential: str,
        mode: Annotated[
            str | None,
            strawberry.argument(
                description="`live` or `indexed`, for a provider that has both; its default "
                "when omitted."
            ),
        ] = None,
    ) -> ProviderConnection:
        business = await _business_of(info, business_id)
        record = await info.context.directory.connect_provider(
            business,
            provider=provider,
            base_url=base_url,
            account_id=account_id,
            credential=credential,
            mode=mode,
        )
        return ProviderConnection(record=record)

    @strawberry.mutation(description="Remove a platform connection from its business.")
    async def disconnect_provider(
        self, info: Info, connection_id: strawberry.ID
    ) -> ProviderConnection:
        record = await info.context.directory.disconnect_provider(connection_id)
        return ProviderConnection(record=record)

    @strawberry.mutation(
        description="Subscribe a URL to a business's change events. Each topic must be readable "
        "with the API key's scopes; the URL must be https to a public address unless the "
        "server allows private ones. The signing secret is in the answer, this once."
    )
    async def create_webhook_subscription(
        self,
        info: Info,
        business: strawberry.ID,
        url: str,
        topics: list[str],
        api_key: Annotated[
            str, strawberry.argument(description="The key id of one of the business's API keys.")
        ],
        ordered: bool = True,
    ) -> WebhookSubscriptionWithSecret:
        record, secret = await info.context.directory.create_webhook_subscription(
            await _business_of(info, business, "business"),
            url=url,
            topics=topics,
            api_key_id=api_key,
            ordered=ordered,
        )
        return WebhookSubscriptionWithSecret(
            subscription=WebhookSubscription(record=record), secret=secret
        )

    @strawberry.mutation(
        description="Change a subscription's URL, topics (all of them) or order; what is "
        "omitted stays."
    )
    async def update_webhook_subscription(
        self,
        info: Info,
        id: strawberry.ID,
        url: str | None = None,
        topics: list[str] | None = None,
        ordered: bool | None = None,
    ) -> WebhookSubscription:
        record = await info.context.directory.update_webhook_subscription(
            id, url=url, topics=topics, ordered=ordered
        )
        return WebhookSubscription(record=record)

    @strawberry.mutation(description="Remove a subscription and its deliveries.")
    async def delete_webhook_subscription(
        self, info: Info, id: strawberry.ID
    ) -> WebhookSubscription:
        return WebhookSubscription(
            record=await info.context.directory.delete_webhook_subscription(id)
        )

    @strawberry.mutation(
        description="Deliver again: what the subscription missed is sent from now, in order."
    )
    async def enable_webhook_subscription(
        self, info: Info, id: strawberry.ID
    ) -> WebhookSubscription:
        return WebhookSubscription(
            record=await info.context.directory.enable_webhook_subscription(id)
        )

    @strawberry.mutation(
        description="Stop delivering; events are kept and sent once it is enabled again."
    )
    async def disable_webhook_subscription(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> WebhookSubscription:
        return WebhookSubscription(
            record=await info.context.directory.disable_webhook_subscription(id, reason)
        )

    @strawberry.mutation(
        description="Give a subscription a new signing secret, in the answer this once; the "
        "previous one keeps signing beside it until `previousSecretSignsUntil`."
    )
    async def rotate_webhook_secret(
        self, info: Info, id: strawberry.ID
    ) -> WebhookSubscriptionWithSecret:
        record, secret = await info.context.directory.rotate_webhook_secret(id)
        return WebhookSubscriptionWithSecret(
            subscription=WebhookSubscription(record=record), secret=secret
        )


def build_internal_schema() -> strawberry.Schema:
    return strawberry.Schema(query=Query, mutation=Mutation, config=CONFIG)
