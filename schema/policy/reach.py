"""What a key reaches: the object types its scopes lead to from the query root.

The policy check uses it to prove the prerequisites complete: a scope whose fields sit
on a type its key cannot reach grants nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)

Step = tuple[str, str]  # (type, field)


def reached_types(
    schema: GraphQLSchema, fields: Mapping[Step, str], granted: Collection[str]
) -> dict[str, tuple[Step, ...]]:
    """Each object type reachable through exposed fields whose scope is granted, with the
    first path to it (breadth-first, in field order): the shortest selection reaching it."""
    assert schema.query_type is not None
    paths: dict[str, tuple[Step, ...]] = {schema.query_type.name: ()}
    queue = [schema.query_type]
    while queue:
        current = queue.pop(0)
        for name, field in current.fields.items():
            if fields.get((current.name, name)) not in granted:
                continue
            target = get_named_type(field.type)
            candidates: list[GraphQLObjectType] = []
            if isinstance(target, GraphQLObjectType):
                candidates = [target]
            elif isinstance(target, GraphQLInterfaceType | GraphQLUnionType):
                candidates = list(schema.get_possible_types(target))
            for candidate in candidates:
                if candidate.name not in paths:
                    paths[candidate.name] = (*paths[current.name], (current.name, name))
                    queue.append(candidate)
    return paths
