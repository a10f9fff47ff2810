"""Limits on one operation's shape, checked after parsing and before anything else runs.

Deep nesting, many aliases and huge documents are how one request asks for a great deal of
work; each is refused with its own code and the limit in the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
)
from graphql.language import Lexer

from schema.errors import ErrorCode

# Introspection's `ofType` follows one type wrapper to the next: a chain, never a fan-out, so
# nesting it costs nothing. Not counting it lets every client's standard introspection query
# (which nests it nine times) through the depth limit.
_LINEAR_FIELDS = frozenset({"ofType"})


@dataclass(frozen=True)
class OperationLimits:
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000


def _error(message: str, code: ErrorCode, limit: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code.value, "limit": limit})


def count_tokens(text: str, stop_after: int) -> int:
    """Tokens as the parser sees them, counting no further than `stop_after` + 1.

    A lexing error ends the count; the parser reports it properly afterwards.
    """
    lexer = Lexer(Source(text))
    count = 0
    try:
        while lexer.advance().kind is not TokenKind.EOF:
            count += 1
            if count > stop_after:
                break
    except GraphQLError:
        pass
    return count


def check_tokens(text: str, limits: OperationLimits) -> GraphQLError | None:
    if count_tokens(text, limits.max_tokens) > limits.max_tokens:
        return _error(
            f"The document has more than {limits.max_tokens} tokens.",
            ErrorCode.MAX_TOKENS_EXCEEDED,
            limits.max_tokens,
        )
    return None


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    spreading: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            step = 0 if selection.name.value in _LINEAR_FIELDS else 1
            deepest = max(deepest, step + _depth(selection.selection_set, fragments, spreading))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, spreading))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in spreading:
                deepest = max(
                    deepest, _depth(fragment.selection_set, fragments, spreading | {name})
                )
    return deepest


def _aliases(selection_set: SelectionSetNode | None) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode) and selection.alias is not None:
            total += 1
        if isinstance(selection, (FieldNode, InlineFragmentNode)):
            total += _aliases(selection.selection_set)
    return total


def check_shape(document: DocumentNode, limits: OperationLimits) -> list[GraphQLError]:
    """Depth per operation (fragments expanded), aliases over the whole document."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    errors = []
    depth = max(
        (
            _depth(d.selection_set, fragments, frozenset())
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        ),
        default=0,
    )
    if depth > limits.max_depth:
        errors.append(
            _error(
                f"The operation is {depth} levels deep; the limit is {limits.max_depth}.",
                ErrorCode.MAX_DEPTH_EXCEEDED,
                limits.max_depth,
            )
        )
    aliases = sum(
        _aliases(d.selection_set)
        for d in document.definitions
        if isinstance(d, (OperationDefinitionNode, FragmentDefinitionNode))
    )
    if aliases > limits.max_aliases:
        errors.append(
            _error(
                f"The document uses {aliases} aliases; the limit is {limits.max_aliases}.",
                ErrorCode.MAX_ALIASES_EXCEEDED,
                limits.max_aliases,
            )
        )
    return errors
