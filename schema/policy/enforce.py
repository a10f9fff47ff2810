"""Enforcement: walk the operation before anything executes and refuse what is not granted.

The walk follows what execution would: fields, aliases, inline fragments and fragment
spreads, with each error at its response path. Every selected field that the policy does
not expose, or whose scope the key lacks, and every mutation or subscription, yields one
FORBIDDEN error; one error means no execution.

Each fragment is walked once per type it is spread on, and its findings (paths relative
to the spread) are reused wherever it is spread, so the walk is linear in the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class _Finding:
    """One refused field, at a path relative to where its selection set is used."""

    path: Path
    node: Node
    message: str
    reason: str
    scope: str | None


def _forbidden(
    message: str, node: Node, path: Path, reason: str, scope: str | None, docs: str
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=[node],
        path=list(path) or None,
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
    ) -> None:
        self.schema = schema
        self.policy = policy
        self.granted = granted
        self.fragments = fragments
        self._walked: dict[tuple[str, str], tuple[_Finding, ...]] = {}
        self._walking: set[str] = set()

    def selections(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType
    ) -> list[_Finding]:
        """Findings in document order; a spread repeated in one selection set answers at the
        same paths, so its findings are kept once (the output stays linear too)."""
        findings: dict[tuple[Path, str], _Finding] = {}
        if selection_set is None:
            return []
        for selection in selection_set.selections:
            found: Sequence[_Finding] = ()
            if isinstance(selection, FieldNode):
                found = self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                if target is not None:
                    found = self.selections(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                found = self.fragment(selection.name.value)
            for finding in found:
                findings.setdefault((finding.path, finding.message), finding)
        return list(findings.values())

    def fragment(self, name: str) -> tuple[_Finding, ...]:
        fragment = self.fragments.get(name)
        if fragment is None or name in self._walking:  # unknown or cyclic: validation says so
            return ()
        target = self.schema.get_type(fragment.type_condition.name.value)
        if target is None:
            return ()
        memo = (name, target.name)
        if memo not in self._walked:
            self._walking.add(name)
            self._walked[memo] = tuple(self.selections(fragment.selection_set, target))
            self._walking.discard(name)
        return self._walked[memo]

    def field(self, node: FieldNode, parent: GraphQLNamedType) -> list[_Finding]:
        name = node.name.value
        if name in _ALWAYS_ALLOWED or name in _INTROSPECTION:
            return []
        if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return []
        definition = parent.fields.get(name)
        if definition is None:  # not in the schema at all: validation reports it
            return []
        key = node.alias.value if node.alias else name
        scope = self.policy.scope_for(parent.name, name)
        if scope is None:
            message = f"`{parent.name}.{name}` is not available to API keys."
            return [_Finding((key,), node, message, NOT_EXPOSED, None)]
        if scope not in self.granted:
            message = f"`{parent.name}.{name}` needs the `{scope}` scope, which this API key lacks."
            return [_Finding((key,), node, message, MISSING_SCOPE, scope)]
        target = get_named_type(definition.type)
        inner = self.selections(node.selection_set, target)
        return [_Finding((key, *f.path), f.node, f.message, f.reason, f.scope) for f in inner]


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
    walk = _Walk(schema, policy, granted, fragments)
    errors: list[GraphQLError] = []
    seen: set[tuple[str, Path]] = set()
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if definition.operation is not OperationType.QUERY:
            errors.append(
                _forbidden(
                    f"{definition.operation.value.capitalize()}s are not available to API keys: "
                    "the Business API is read-only.",
                    definition,
                    (),
                    NOT_EXPOSED,
                    None,
                    documentation,
                )
            )
            continue
        assert schema.query_type is not None
        for finding in walk.selections(definition.selection_set, schema.query_type):
            if (finding.message, finding.path) not in seen:
                seen.add((finding.message, finding.path))
                errors.append(
                    _forbidden(
                        finding.message,
                        finding.node,
                        finding.path,
                        finding.reason,
                        finding.scope,
                        documentation,
                    )
                )
    return errors
