"""What an operation costs: priced from the document before it runs, then counted again
over what its answer holds.

The rules are Shopify's, with the numbers from the policy's cost table: each object
selected costs `object` (1), each connection `connection` (2) + `first` × the cost of one
of its items, scalars and enums nothing, introspection nothing. `first` is the argument as
the operation gives it (a variable's coerced value), or the schema's default for it.

Fields are collected from the document's analysis as graphql-core's execution collects
them (`schema/engine/collect.py`). So the price is what executing costs, never a
selection counted twice because it was written twice; an alias is its own response key
and costs again. Each merged field is priced once, so pricing is linear in the document
however its fragments multiply.

The price keeps the fields that cost something as a small tree of charges; the actual
cost walks the answer's data with it: a null object costs nothing, a connection its own
points plus what the items it returned cost.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from graphql import (
    GraphQLError,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
)
from graphql.execution.executor import Executor as GraphQLExecutor
from graphql.execution.values import get_argument_values

from schema.engine.analysis import Analysis, Field
from schema.engine.collect import Collector, Grouped
from schema.errors import ErrorCode
from schema.policy.cost_table import CostTable, is_connection

# Prices kept per document, one per set of values of the variables the price reads.
MAX_PRICES_PER_DOCUMENT = 16


@dataclass(frozen=True, slots=True)
class Charge:
    """A response key that costs something: `points` for the object (for each item, when
    `many`) found there, plus what `inner` charges inside it.

    A field the schema never lets be null is there whenever its parent is (an error's
    null goes up to the parent), so when nothing inside it costs anything its points are
    the parent's: the walk does not visit it. `dense`: a list whose items are never null,
    counted by its length."""

    key: str
    points: int
    many: bool
    inner: tuple[Charge, ...]
    dense: bool = False


def _actual(charges: tuple[Charge, ...], value: Mapping[str, Any]) -> int:
    total = 0
    for charge in charges:
        found = value.get(charge.key)
        if found is None:
            continue
        if charge.many:
            if not charge.inner:
                total += charge.points * (
                    len(found) if charge.dense else sum(i is not None for i in found)
                )
                continue
            for item in found:
                if item is not None:
                    total += charge.points + _actual(charge.inner, item)
        else:
            total += charge.points
            if charge.inner:
                total += _actual(charge.inner, found)
    return total


@dataclass(frozen=True, eq=False)
class Price:
    requested: int
    charges: tuple[Charge, ...]
    explained: str = ""  # the sum written out, when asked for

    def actual(self, data: Mapping[str, Any] | None) -> int:
        """The same rules over what the answer holds."""
        return 0 if data is None else _actual(self.charges, data)

    def report(self, data: Mapping[str, Any] | None) -> dict[str, int]:
        """`extensions.cost` of a response with this data."""
        return {"requestedQueryCost": self.requested, "actualQueryCost": self.actual(data)}


class _Priced(NamedTuple):
    key: str
    requested: int  # for one object, or one item when `many`
    charge: Charge | None
    many: bool
    formula: str  # how `requested` adds up, when explaining ("" when it is 0)
    non_null: bool = False

    def term(self) -> str:
        return f"`{self.key}` {self.formula}"


class _Pricing:
    def __init__(
        self,
        schema: GraphQLSchema,
        table: CostTable,
        built: GraphQLExecutor,
        explain: bool = False,
    ) -> None:
        self.table = table
        self.variables = built.variable_values
        self.collector = Collector(schema, built.variable_values)
        self.explain = explain
        self._priced: dict[tuple[str, tuple[int, ...]], _Priced] = {}

    # -- pricing

    def selection(self, type_: GraphQLObjectType, grouped: Grouped) -> list[_Priced]:
        return [self.field(type_, key, nodes) for key, nodes in grouped.items()]

    def field(self, parent: GraphQLObjectType, key: str, fields: dict[int, Field]) -> _Priced:
        memo = (parent.name, tuple(fields))
        found = self._priced.get(memo)
        if found is None:
            found = self._priced[memo] = self._price(parent, key, list(fields.values()))
        return found

    def _price(self, parent: GraphQLObjectType, key: str, fields: list[Field]) -> _Priced:
        name = fields[0].node.name.value
        if name.startswith("__"):
            return _Priced(key, 0, None, False, "")  # introspection and __typename read no data
        definition = parent.fields[name]
        own = self.table.of_field(parent.name, name)
        target = get_named_type(definition.type)
        many = is_list_type(get_nullable_type(definition.type))  # type: ignore[arg-type]
        if not isinstance(target, GraphQLObjectType):
            # Scalars and enums; an interface or a union (never exposed: the policy check
            # refuses them) as one object.
            points = own if own is not None else 0 if is_leaf_type(target) else self.table.object
            charge = Charge(key, points, False, ()) if points else None
            formula = self._formula(points, str(points))
            return _Priced(key, points, charge, False, formula, is_non_null_type(definition.type))
        inner = self.selection(target, self.collector.subfields(target, fields))
        once = [i for i in inner if not i.many]
        if is_connection(target, definition):
            points = self.table.connection if own is None else own
            first = get_argument_values(definition, fields[0].node, self.variables).get("first")
            first = first if isinstance(first, int) and first > 0 else 0
            items = [i for i in inner if i.many]
            requested = (
                points + first * sum(i.requested for i in items) + sum(i.requested for i in once)
            )
            formula = self._formula(requested, self._connection(points, first, items, once))
        else:
            points = self.table.of_object(target.name) if own is None else own
            requested = points + sum(i.requested for i in inner)
            formula = self._formula(requested, self._object(points, inner))
        charged = points
        charges = []
        for i in inner:
            if i.charge is None:
                continue
            if i.non_null and not i.many and not i.charge.inner:
                charged += i.charge.points  # there whenever this object is
            else:
                charges.append(i.charge)
        dense = many and _items_non_null(definition.type)
        charge = Charge(key, charged, many, tuple(charges), dense) if charged or charges else None
        non_null = is_non_null_type(definition.type)
        return _Priced(key, requested, charge, many, formula, non_null)

    # -- the sum written out (for the reference's worked example), only when asked for

    def _formula(self, requested: int, written: str) -> str:
        return written if self.explain and requested else ""

    def _object(self, points: int, inner: list[_Priced]) -> str:
        terms = [i.term() for i in inner if i.formula]
        return f"({' + '.join([str(points), *terms])})" if terms else str(points)

    def _connection(
        self, points: int, first: int, items: list[_Priced], once: list[_Priced]
    ) -> str:
        item = " + ".join(i.formula for i in items if i.formula) or "0"
        terms = [i.term() for i in once if i.formula]
        return f"({' + '.join([str(points), f'{first} × {item}', *terms])})"


def _items_non_null(type_: GraphQLOutputType) -> bool:
    listed = get_nullable_type(type_)  # type: ignore[arg-type]
    return isinstance(listed, GraphQLList) and is_non_null_type(listed.of_type)


def price(
    schema: GraphQLSchema,
    table: CostTable,
    analysis: Analysis,
    built: GraphQLExecutor,
    explain: bool = False,
) -> Price:
    """The price of the operation graphql-core prepared (`built`: the chosen operation,
    the coerced variables) from the document's analysis. The root object itself costs
    nothing."""
    pricing = _Pricing(schema, table, built, explain)
    root = schema.get_root_type(built.operation.operation)
    if root is None:
        return Price(0, ())
    selection = analysis.selection_of(built.operation)
    fields = pricing.selection(root, pricing.collector.collect(root, [selection]))
    requested = sum(f.requested for f in fields)
    charges = tuple(f.charge for f in fields if f.charge is not None)
    explained = " + ".join(f.term() for f in fields if f.formula)
    return Price(requested, charges, explained)


def price_key(analysis: Analysis, built: GraphQLExecutor) -> Hashable:
    """What the price of this operation depends on besides the document: its name and the
    values of the variables the price reads (absent and null apart: an absent `first`
    takes the default). Not `after`: a new cursor is the same price."""
    coerced = built.variable_values.coerced
    values = tuple(
        (name in coerced, _hashable(coerced.get(name))) for name in analysis.price_variables
    )
    return (built.operation.name.value if built.operation.name else None, values)


def _hashable(value: Any) -> Hashable:
    return value if isinstance(value, Hashable) else repr(value)


def check_cost(requested: int, limit: int) -> GraphQLError | None:
    if requested <= limit:
        return None
    return GraphQLError(
        f"The operation would cost {requested} points; the limit is {limit}. Ask for "
        "smaller pages (`first`) or fewer fields, and page through with `after`.",
        extensions={"code": ErrorCode.MAX_COST_EXCEEDED.value, "cost": requested, "limit": limit},
    )
