"""Participants: the people a business knows through its platforms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from schema.gids import encode_gid
from schema.records import ConsentRecord, ParticipantRecord
from schema.scalars import Instant
from schema.source import BusinessRecord
from schema.types.activity import ActivityRegistration
from schema.types.commerce import ProductPurchase
from schema.types.enums import EmailMarketingConsentStatus
from schema.types.pagination import (
    DEFAULT_PAGE_SIZE,
    After,
    Connection,
    First,
    check_first,
    empty_connection,
    given_cursor,
    offset_after,
    paginate_list,
    stable_order,
)
from schema.types.partial import load_or_default


@strawberry.type(description="A participant's answer on marketing email, and when it was given.")
class EmailMarketingConsent:
    record: strawberry.Private[ConsentRecord]

    @strawberry.field(description="Whether the participant agreed to marketing email.")
    def status(self) -> EmailMarketingConsentStatus:
        return EmailMarketingConsentStatus(self.record.status)

    @strawberry.field(description="When the answer was last recorded; null when unknown.")
    def at(self) -> Instant | None:
        return self.record.at


@strawberry.type(
    description="A person the business knows: someone who booked, registered or bought "
    "through one of the business's connected platforms."
)
class BusinessParticipant:
    record: strawberry.Private[ParticipantRecord]
    business: strawberry.Private[BusinessRecord]

    @strawberry.field(description="The participant's global ID, stable across requests.")
    def id(self) -> strawberry.ID:
        key = self.record.key
        return strawberry.ID(encode_gid("BusinessParticipant", key.connection, key.provider_id))

    @strawberry.field(description="The participant's full name, as the platform records it.")
    def name(self) -> str | None:
        return self.record.name

    @strawberry.field(description="The participant's email address, when the platform has one.")
    def email(self) -> str | None:
        return self.record.email

    @strawberry.field(description="The participant's phone number, when the platform has one.")
    def phone(self) -> str | None:
        return self.record.phone

    @strawberry.field(description="The platforms this participant is known through.")
    def sources(self) -> list[str]:
        return [self.record.provider]

    @strawberry.field(
        description="The participant's marketing-email consent; null when the platform does "
        "not record consent."
    )
    async def email_marketing_consent(self, info: Info) -> EmailMarketingConsent | None:
        loader = info.context.loaders(self.business).consent_by_participant
        record = await loader.load(self.record)
        return EmailMarketingConsent(record=record) if record else None

    @strawberry.field(
        description="The participant's registrations for activity sessions, oldest first."
    )
    async def registrations(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = UNSET,
    ) -> Connection[ActivityRegistration]:
        return await self._page(info, "registrations", check_first(first), after)

    @strawberry.field(description="The products the participant bought, oldest first.")
    async def product_purchases(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = UNSET,
    ) -> Connection[ProductPurchase]:
        return await self._page(info, "purchases", check_first(first), after)

    async def _page(self, info: Info, relation: str, first: int, after: str | None) -> Connection:
        """Registrations and purchases come whole from one batched load, then are paged here."""
        after = given_cursor(after)
        cursors = info.context.cursors
        bound_to = f"{relation}:{self.id()}"
        offset = offset_after(cursors, after, business=self.business.public_id, list_name=bound_to)
        loaders = info.context.loaders(self.business)
        loader = (
            loaders.registrations_by_participant
            if relation == "registrations"
            else loaders.purchases_by_participant
        )
        records = await load_or_default(info, loader, self.record, None)
        if records is None:
            return empty_connection()
        ordered = sorted(records, key=lambda r: stable_order(r.created_at, r.provider_id))
        return paginate_list(
            ordered,
            first=first,
            offset=offset,
            make_node=self._node_factory(relation),
            encode=lambda position: cursors.encode(
                business=self.business.public_id, list_name=bound_to, position=position
            ),
        )

    def _node_factory(self, relation: str) -> Callable[[Any], Any]:
        connection = self.record.key.connection
        if relation == "registrations":
            return lambda record: ActivityRegistration(
                record=record,
                connection=connection,
                business=self.business,
                provider=self.record.provider,
            )
        return lambda record: ProductPurchase(record=record, connection=connection)
