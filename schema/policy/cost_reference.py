"""What the reference says of query cost: each field's cost, and the rules with the Business
API document's example query priced term by term, all worked out from the cost table."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import Executor as GraphQLExecutor
from graphql import (
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    parse,
)

from schema.engine.analysis import analyse
from schema.engine.query_cost import price
from schema.example import EXAMPLE_QUERY
from schema.policy.cost_table import CostTable, default_first, is_connection


@dataclass(frozen=True)
class CostDoc:
    object: int
    connection: int
    types: dict[str, int]  # the types whose objects cost other than `object`
    example: str
    example_cost: int
    example_sum: str  # how it adds up, field by field


def field_cost(table: CostTable, owner: GraphQLObjectType, name: str) -> str:
    """A field's cost as the reference states it: its own points (for each item of a
    list), a connection's formula with its default `first`."""
    definition = owner.fields[name]
    target = get_named_type(definition.type)
    own = table.of_field(owner.name, name)
    if is_connection(target, definition):
        points = table.connection if own is None else own
        first = default_first(definition)
        return f"{points} + first × item (first = {first} by default)"
    if is_leaf_type(target):
        return str(own or 0)
    points = table.of_object(target.name) if own is None else own
    listed = is_list_type(get_nullable_type(definition.type))  # type: ignore[arg-type]
    return f"{points} each" if listed else str(points)


def cost_doc(table: CostTable, public: GraphQLSchema) -> CostDoc:
    """`public` is the slice a key with every scope sees."""
    document = parse(EXAMPLE_QUERY)
    built = GraphQLExecutor.build(public, document)
    assert not isinstance(built, list), built
    priced = price(public, table, analyse(document, public), built, explain=True)
    types = {name: points for name, points in table.types.items() if points != table.object}
    return CostDoc(
        table.object, table.connection, types, EXAMPLE_QUERY, priced.requested, priced.explained
    )
