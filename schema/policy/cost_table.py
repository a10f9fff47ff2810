"""The cost table: what each part of an operation costs, from the policy file's `[cost]`.

```toml
[cost]
object = 1        # each object selected
connection = 2    # each list, before `first` × the cost of one of its items

[cost.types]      # what one object of a type costs, when not `object`
PageInfo = 0

[cost.fields.<Type>]  # what one field costs itself, when not what its type says
```

Scalars and enums cost nothing unless a field says otherwise. Which fields are lists
(connections) is not written here: it comes from the schema, a field returning a
`…Connection` type and taking `first`. Mistakes name the file and line, as the rest of the
policy file's do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_list_type,
)
from graphql.utilities.coerce_input_value import coerce_default_value

DEFAULT_OBJECT = 1
DEFAULT_CONNECTION = 2


class CostTableError(Exception):
    """The `[cost]` table is wrong; the message names the file and line."""


@dataclass(frozen=True)
class CostTable:
    object: int = DEFAULT_OBJECT
    connection: int = DEFAULT_CONNECTION
    types: Mapping[str, int] = field(default_factory=dict)  # type -> one object's cost
    fields: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (type, field) -> cost

    def of_object(self, type_name: str) -> int:
        return self.types.get(type_name, self.object)

    def of_field(self, type_name: str, field_name: str) -> int | None:
        """What the field costs itself when the table says so; None: as its type says."""
        return self.fields.get((type_name, field_name))


def returns_connection(target: GraphQLNamedType, definition: GraphQLField) -> bool:
    """Whether the field returns one `…Connection` object (not a list of objects whose
    type happens to be named so, like `[ProviderConnection]`)."""
    return (
        isinstance(target, GraphQLObjectType)
        and target.name.endswith("Connection")
        and not is_list_type(get_nullable_type(definition.type))  # type: ignore[arg-type]
    )


def is_connection(target: GraphQLNamedType, definition: GraphQLField) -> bool:
    """A list priced by its page size: a field returning a `…Connection` type that takes
    `first`."""
    return returns_connection(target, definition) and "first" in definition.args


def default_first(definition: GraphQLField) -> int | None:
    """The schema's default for a connection's `first`, as execution reads it."""
    default = coerce_default_value(definition.args["first"])
    return None if isinstance(default, bool) or not isinstance(default, int) else default


def _points(value: Any, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CostTableError(f"{where}: `{name}` must be a whole number of points, 0 or more")
    return value


def parse_cost_table(data: Any, source: str, lines: Mapping[tuple[str, str], int]) -> CostTable:
    """The `[cost]` table as the TOML parser gave it (absent: the defaults)."""

    def where(table: str, key: str = "") -> str:
        line = lines.get((table, key)) or lines.get((table, ""))
        return f"{source}:{line}" if line else source

    if data is None:
        return CostTable()
    if not isinstance(data, dict):
        raise CostTableError(f"{where('', 'cost')}: `cost` must be a table")
    unknown = sorted(set(data) - {"object", "connection", "types", "fields"})
    if unknown:
        raise CostTableError(f"{where('cost', unknown[0])}: unknown key `cost.{unknown[0]}`")
    types = data.get("types", {})
    if not isinstance(types, dict):
        raise CostTableError(f"{where('cost', 'types')}: `cost.types` must be a table")
    fields: dict[tuple[str, str], int] = {}
    for type_name, table in data.get("fields", {}).items():
        if not isinstance(table, dict):
            raise CostTableError(
                f"{where('cost.fields', type_name)}: `cost.fields.{type_name}` must be a table"
            )
        for field_name, value in table.items():
            at = where(f"cost.fields.{type_name}", field_name)
            fields[(type_name, field_name)] = _points(value, at, f"{type_name}.{field_name}")
    return CostTable(
        object=_points(data.get("object", DEFAULT_OBJECT), where("cost", "object"), "object"),
        connection=_points(
            data.get("connection", DEFAULT_CONNECTION), where("cost", "connection"), "connection"
        ),
        types={
            name: _points(value, where("cost.types", name), name) for name, value in types.items()
        },
        fields=fields,
    )


def check_cost_table(
    table: CostTable,
    schema: GraphQLSchema,
    exposed: Iterable[tuple[str, str]],
    where: Callable[[str, str], str],
) -> None:
    """Refuse a table naming what the schema lacks, and an exposed field whose cost cannot
    be known before it runs: a list that is no connection (its length is unknown), a
    connection whose `first` has no default, an interface or a union."""
    for type_name in table.types:
        if not isinstance(schema.type_map.get(type_name), GraphQLObjectType):
            raise CostTableError(
                f"{where('cost.types', type_name)}: the schema has no object type `{type_name}`"
            )
    for type_name, field_name in table.fields:
        owner = schema.type_map.get(type_name)
        if not isinstance(owner, GraphQLObjectType) or field_name not in owner.fields:
            raise CostTableError(
                f"{where(f'cost.fields.{type_name}', field_name)}: the schema has no field "
                f"`{type_name}.{field_name}`"
            )
    for type_name, field_name in exposed:
        owner = schema.type_map.get(type_name)
        if not isinstance(owner, GraphQLObjectType) or field_name not in owner.fields:
            continue  # the policy's own check names it
        _check_priceable(owner, field_name, where(f"expose.{type_name}", field_name))


def _check_priceable(owner: GraphQLObjectType, field_name: str, where: str) -> None:
    definition = owner.fields[field_name]
    target = get_named_type(definition.type)
    name = f"`{owner.name}.{field_name}`"
    if is_abstract_type(target):
        raise CostTableError(f"{where}: {name} returns an interface or a union: it has no cost")
    if returns_connection(target, definition):
        if not is_connection(target, definition):
            raise CostTableError(
                f"{where}: {name} returns a connection but takes no `first`: its length, "
                "and so its cost, is unknown before it runs"
            )
        if default_first(definition) is None:
            raise CostTableError(
                f"{where}: {name} is a connection whose `first` has no default: "
                "its cost is unknown when `first` is left out"
            )
    lists_objects = is_list_type(get_nullable_type(definition.type)) and isinstance(
        target, GraphQLObjectType
    )
    if lists_objects and not owner.name.endswith("Connection"):
        raise CostTableError(
            f"{where}: {name} is a list of objects outside a connection: its length, and so "
            "its cost, is unknown before it runs"
        )
