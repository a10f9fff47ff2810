"""Enforcement: before anything executes, refuse what is not granted.

The verdict reads the document's analysis (`schema/engine/analysis.py`) as execution
would: fields, aliases, inline fragments and fragment spreads, with each error at its
response path. Every selected field that the policy does not expose, or whose scope the
key lacks, and every mutation or subscription, yields one FORBIDDEN error; one error
means no execution.

Each fragment's findings (paths relative to the spread) are found once and reused
wherever it is spread, so the verdict is linear in the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphql import (
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    Node,
    OperationType,
)

from schema.engine.analysis import Analysis, Field, Selection
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


class _Verdict:
    """The policy's findings over the document's analysis, each fragment's once."""

    def __init__(self, policy: Policy, granted: frozenset[str]) -> None:
        self.policy = policy
        self.granted = granted
        self._fragments: dict[str, tuple[_Finding, ...]] = {}

    def selection(self, selection: Selection) -> list[_Finding]:
        """Findings in document order; a spread repeated in one selection set answers at the
        same paths, so its findings are kept once (the output stays linear too)."""
        findings: dict[tuple[Path, str], _Finding] = {}
        for item in selection.items:
            found: Sequence[_Finding] = ()
            if isinstance(item, Field):
                found = self.field(item)
            elif item.selection is None or item.selection.type is None:
                pass  # unknown, cyclic or of an unknown type: validation says so
            elif item.name is None:
                found = self.selection(item.selection)
            else:
                found = self.fragment(item.name, item.selection)
            for finding in found:
                findings.setdefault((finding.path, finding.message), finding)
        return list(findings.values())

    def fragment(self, name: str, selection: Selection) -> tuple[_Finding, ...]:
        found = self._fragments.get(name)
        if found is None:
            found = self._fragments[name] = tuple(self.selection(selection))
        return found

    def field(self, item: Field) -> list[_Finding]:
        name = item.node.name.value
        parent = item.parent
        if name in _ALWAYS_ALLOWED or name in _INTROSPECTION or item.definition is None:
            return []  # an unknown field (or type): validation reports it
        assert isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType))
        scope = self.policy.scope_for(parent.name, name)
        if scope is None:
            message = f"`{parent.name}.{name}` is not available to API keys."
            return [_Finding((item.key,), item.node, message, NOT_EXPOSED, None)]
        if scope not in self.granted:
            message = f"`{parent.name}.{name}` needs the `{scope}` scope, which this API key lacks."
            return [_Finding((item.key,), item.node, message, MISSING_SCOPE, scope)]
        inner = self.selection(item.inner) if item.inner is not None else []
        return [_Finding((item.key, *f.path), f.node, f.message, f.reason, f.scope) for f in inner]


def check_operation(
    analysis: Analysis, policy: Policy, granted: frozenset[str], documentation: str
) -> list[GraphQLError]:
    """Every FORBIDDEN error for the document's operations, from its analysis against the
    full graph."""
    verdict = _Verdict(policy, granted)
    errors: list[GraphQLError] = []
    seen: set[tuple[str, Path]] = set()
    for definition, selection in analysis.operations:
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
        for finding in verdict.selection(selection):
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
