"""Product purchases and the products they are for."""

from __future__ import annotations

import decimal

import strawberry

from schema.gids import encode_gid
from schema.records import ProductRecord, PurchaseRecord
from schema.scalars import Instant
from schema.types.enums import PurchaseStatus, member_of

_PURCHASE_STATUS = member_of(PurchaseStatus)


@strawberry.type(description="Something the business sells: a pass, a class pack, goods.")
class Product:
    record: strawberry.Private[ProductRecord]
    connection: strawberry.Private[str]

    def __init__(self, record: ProductRecord, connection: str) -> None:
        # Positional (the dataclass's keyword-only one costs twice as much): one is built
        # for every purchase written.
        self.record, self.connection = record, connection

    @strawberry.field(description="The product's global ID.")
    def id(self) -> strawberry.ID:
        return encode_gid("Product", self.connection, self.record.provider_id)

    @strawberry.field(description="The product's name as sold.")
    def name(self) -> str | None:
        return self.record.name


@strawberry.type(description="One product bought by a participant (one line of an order).")
class ProductPurchase:
    record: strawberry.Private[PurchaseRecord]
    connection: strawberry.Private[str]

    def __init__(self, record: PurchaseRecord, connection: str) -> None:
        # Positional, as Product's: one is built for every purchase written.
        self.record, self.connection = record, connection

    @strawberry.field(description="The purchase's global ID.")
    def id(self) -> strawberry.ID:
        return encode_gid("ProductPurchase", self.connection, self.record.provider_id)

    @strawberry.field(description="Where the payment stands.")
    def status(self) -> PurchaseStatus:
        return _PURCHASE_STATUS(self.record.status)

    @strawberry.field(
        description="The amount paid for this purchase after tax, as a decimal string; null "
        "when the provider does not report it."
    )
    def price_paid(self) -> decimal.Decimal | None:
        return self.record.price_paid

    @strawberry.field(description="The ISO 4217 currency of `pricePaid`.")
    def currency_code(self) -> str | None:
        return self.record.currency_code

    @strawberry.field(description="When the purchase was made.")
    def purchased_at(self) -> Instant | None:
        return self.record.purchased_at

    @strawberry.field(description="The product bought. Selecting its `id` costs nothing extra.")
    def product(self) -> Product:
        return Product(self.record.product, self.connection)
