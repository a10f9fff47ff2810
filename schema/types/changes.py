"""The change log as the operator's graph shows it: `Business.changes`, events in order.

Not exposed to API keys by the default policy (the key-facing surface stays the
document's); an operator who wants keys to read it lists `Business.changes` and the
`ChangeEvent` fields in the policy file under a scope of their own.
"""

from __future__ import annotations

import strawberry

from schema.scalars import Instant
from schema.source import ChangeEventRecord


@strawberry.type(
    description="A participant, registration or purchase that appeared, changed or went away "
    "at one of the business's platforms."
)
class ChangeEvent:
    record: strawberry.Private[ChangeEventRecord]

    @strawberry.field(
        description="Its place in the business's change log: every event has a number of its "
        "own, one more than the event before it."
    )
    def seq(self) -> str:
        return str(self.record.seq)

    @strawberry.field(
        description="What happened: `participant`, `registration` or `purchase`, then "
        "`created`, `updated` or `deleted` (a consent change is `participant.updated`)."
    )
    def topic(self) -> str:
        return self.record.topic

    @strawberry.field(description="The global ID of the record that changed, as queries return it.")
    def record_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.record_gid)

    @strawberry.field(description="The global ID of the participant the record belongs to.")
    def participant_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.participant_gid)

    @strawberry.field(description="The public id of the platform connection it came from.")
    def connection(self) -> str:
        return self.record.connection

    @strawberry.field(description="The platform, by its provider name (`wix`, …).")
    def provider(self) -> str:
        return self.record.provider

    @strawberry.field(
        description="When the platform says the change happened, where it says so; null otherwise."
    )
    def occurred_at(self) -> Instant | None:
        return Instant.of(self.record.occurred_at)

    @strawberry.field(description="When the server noticed the change.")
    def observed_at(self) -> Instant:
        return Instant.at(self.record.observed_at)

    @strawberry.field(
        description="For an update, the fields that changed, by their names in the graph "
        "(`name`, `email`, `emailMarketingConsent`, `status`, …); empty otherwise."
    )
    def fields(self) -> list[str]:
        return list(self.record.fields)
