"""Participants: the people a business knows through its platforms."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from schema.errors import ClientError
from schema.gids import encode_gid
from schema.records import ConsentRecord, ParticipantRecord
from schema.scalars import Instant
from schema.source import BusinessRecord
from schema.types.activity import ActivityRegistration
from schema.types.commerce import ProductPurchase
from schema.types.enums import EmailMarketingConsentStatus, member_of
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
from schema.types.reading import Path, loaded, loads, partial_error

_EMAIL_MARKETING_CONSENT_STATUS = member_of(EmailMarketingConsentStatus)


@strawberry.type(description="A participant's answer on marketing email, and when it was given.")
class EmailMarketingConsent:
    record: strawberry.Private[ConsentRecord]

    @strawberry.field(description="Whether the participant agreed to marketing email.")
    def status(self) -> EmailMarketingConsentStatus:
        return _EMAIL_MARKETING_CONSENT_STATUS(self.record.status)

    @strawberry.field(description="When the answer was last recorded; null when unknown.")
    def at(self) -> Instant | None:
        return self.record.at


async def read_consents(
    context: Any, participants: Sequence[BusinessParticipant]
) -> list[EmailMarketingConsent | None | BaseException]:
    """Null when the platform records no consent; a failure is the field's error."""
    if not participants:
        return []
    loader = context.loaders(participants[0].business).consent_by_participant
    return [
        record
        if isinstance(record, BaseException)
        else EmailMarketingConsent(record=record)
        if record
        else None
        for record in await loaded(loader, [p.record for p in participants])
    ]


async def read_relations(
    context: Any,
    participants: Sequence[BusinessParticipant],
    relation: str,
    arguments: Mapping[str, Any],
    paths: Sequence[Path],
) -> list[Connection[Any] | BaseException]:
    """Registrations and purchases come whole from one batched load, then are paged here
    by offset, with cursors bound to the participant and the relation. A provider that
    fails empties the relation, with an error at its path."""
    if not participants:
        return []
    try:
        first = check_first(arguments.get("first", DEFAULT_PAGE_SIZE))
    except ClientError as error:
        return [error] * len(participants)
    after = given_cursor(arguments.get("after"))
    cursors = context.cursors
    business = participants[0].business
    loaders = context.loaders(business)
    loader = (
        loaders.registrations_by_participant
        if relation == "registrations"
        else loaders.purchases_by_participant
    )
    # Every cursor is checked before anything loads: a refused one fails its field at
    # once, in document order, whichever relation's data comes back first.
    lists = [f"{relation}:{participant.id()}" for participant in participants]
    offsets: list[int | ClientError] = []
    for list_name in lists:
        try:
            offsets.append(
                offset_after(cursors, after, business=business.public_id, list_name=list_name)
            )
        except ClientError as error:
            offsets.append(error)
    wanted = [p.record for p, o in zip(participants, offsets, strict=True) if isinstance(o, int)]
    loaded_records = iter(await loaded(loader, wanted) if wanted else ())
    results: list[Connection[Any] | BaseException] = []
    for i, (participant, list_name, offset) in enumerate(
        zip(participants, lists, offsets, strict=True)
    ):
        if isinstance(offset, ClientError):
            results.append(offset)
            continue
        found = next(loaded_records)
        if isinstance(found, ClientError):
            partial_error(context, paths[i], found)  # a path is only looked at here
            results.append(empty_connection())
            continue
        if isinstance(found, BaseException):
            results.append(found)
            continue
        ordered = sorted(found, key=stable_order)
        results.append(
            paginate_list(
                ordered,
                first=first,
                offset=offset,
                make_node=_node_factory(participant, relation),
                encode=_cursor(cursors, business.public_id, list_name),
            )
        )
    return results


def _cursor(cursors: Any, business: str, list_name: str) -> Callable[[Any], str]:
    return lambda position: cursors.encode(
        business=business, list_name=list_name, position=position
    )


def read_registrations(context: Any, parents: Any, arguments: Any, paths: Any) -> Any:
    return read_relations(context, parents, "registrations", arguments, paths)


def read_purchases(context: Any, parents: Any, arguments: Any, paths: Any) -> Any:
    return read_relations(context, parents, "purchases", arguments, paths)


def _node_factory(participant: BusinessParticipant, relation: str) -> Callable[[Any], Any]:
    connection, business = participant.record.key.connection, participant.business
    if relation == "registrations":
        provider = participant.record.provider
        return lambda record: ActivityRegistration(record, connection, business, provider)
    return lambda record: ProductPurchase(record, connection)


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
        return encode_gid("BusinessParticipant", key.connection, key.provider_id)

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

    @loads(
        lambda context, parents, arguments, paths: read_consents(context, parents),
        description="The participant's marketing-email consent; null when the platform does "
        "not record consent.",
    )
    async def email_marketing_consent(self, info: Info) -> EmailMarketingConsent | None: ...

    @loads(
        read_registrations,
        description="The participant's registrations for activity sessions, oldest first.",
    )
    async def registrations(
        self, info: Info, first: First = DEFAULT_PAGE_SIZE, after: After = UNSET
    ) -> Connection[ActivityRegistration]: ...

    @loads(read_purchases, description="The products the participant bought, oldest first.")
    async def product_purchases(
        self, info: Info, first: First = DEFAULT_PAGE_SIZE, after: After = UNSET
    ) -> Connection[ProductPurchase]: ...
