"""Enforcement: walk the operation before anything executes and refuse what is not granted.

The walk follows what execution would: fields, aliases, inline fragments and fragment
spreads (each expanded where it is used, so the error's `path` is the response path).
Every selected field that the policy does not expose, or whose scope the key lacks, and
every mutation or subscription, yields one FORBIDDEN error; one error means no execution.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)

from schema.errors import ErrorCode
from schema.policy.model import Policy

NOT_EXPOSED = "NOT_EXPOSED"
MISSING_SCOPE = "MISSING_SCOPE"
_ALWAYS_ALLOWED = {"__typename"}
_INTROSPECTION = {"__schema", "__type"}  # answered from the key's slice, so always safe


def _forbidden(
    message: str, node: Node, path: list[str | int], reason: str, scope: str | None, docs: str
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=[node],
        path=path or None,
        extensions={
            "code": ErrorCode.FORBIDDEN.value,
            "reason": reason,
            "requiredScope": scope,
            "documentation": docs,
        },
    )


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        policy: Policy,
        granted: frozenset[str],
        fragments: dict[str, FragmentDefinitionNode],
        documentation: str,
    ) -> None:
        self.schema = schema
        self.policy = policy
        self.granted = granted
        self.fragments = fragments
        self.documentation = documentation

    def selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType,
        path: list[str | int],
        spreading: frozenset[str],
    ) -> Iterator[GraphQLError]:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield from self.field(selection, parent, path, spreading)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                if target is not None:
                    yield from self.selections(selection.selection_set, target, path, spreading)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spreading:  # unknown or cyclic: validation says so
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                if target is not None:
                    yield from self.selections(
                        fragment.selection_set, target, path, spreading | {name}
                    )

    def field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType,
        path: list[str | int],
        spreading: frozenset[str],
    ) -> Iterator[GraphQLError]:
        name = node.name.value
        if name in _ALWAYS_ALLOWED or name in _INTROSPECTION:
            return
        if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return
        definition = parent.fields.get(name)
        if definition is None:  # not in the schema at all: validation reports it
            return
        here = [*path, node.alias.value if node.alias else name]
        scope = self.policy.scope_for(parent.name, name)
        if scope is None:
            yield _forbidden(
                f"`{parent.name}.{name}` is not available to API keys.",
                node,
                here,
                NOT_EXPOSED,
                None,
                self.documentation,
            )
        elif scope not in self.granted:
            yield _forbidden(
                f"`{parent.name}.{name}` needs the `{scope}` scope, which this API key lacks.",
                node,
                here,
                MISSING_SCOPE,
                scope,
                self.documentation,
            )
        else:
            target = get_named_type(definition.type)
            yield from self.selections(node.selection_set, target, here, spreading)


def check_operation(
    schema: GraphQLSchema,
    policy: Policy,
    document: DocumentNode,
    granted: frozenset[str],
    documentation: str,
) -> list[GraphQLError]:
    """Every FORBIDDEN error for the document's operations, checked against the full graph."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, policy, granted, fragments, documentation)
    errors: list[GraphQLError] = []
    seen: set[tuple[str, tuple[str | int, ...]]] = set()
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if definition.operation is not OperationType.QUERY:
            errors.append(
                _forbidden(
                    f"{definition.operation.value.capitalize()}s are not available to API keys: "
                    "the Business API is read-only.",
                    definition,
                    [],
                    NOT_EXPOSED,
                    None,
                    documentation,
                )
            )
            continue
        assert schema.query_type is not None
        for error in walk.selections(definition.selection_set, schema.query_type, [], frozenset()):
            key = (error.message, tuple(error.path or ()))
            if key not in seen:
                seen.add(key)
                errors.append(error)
    return errors
