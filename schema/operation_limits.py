"""Limits on one operation's shape, checked after parsing and before anything else runs.

Deep nesting, many aliases, huge documents and fragments that fan out are how one request
asks for a great deal of work; each is refused with its own code and the limit in the
message.

The shape is measured in one pass that analyses each fragment once and reuses the result
wherever it is spread, so the check is linear in the document however the fragments
multiply. The number of fields after fragment expansion is bounded too: thirteen
fragments spreading the next one four times are 183 tokens but 4^12 fields, and every
later stage (the policy walk, validation, execution) is only safe once that is bounded.
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
# it is not counted as depth, which lets every client's standard introspection query (which
# nests it nine times) through the depth limit. A longer chain is refused on its own: no type
# here is wrapped more than three times, and a chain of any length would otherwise be free.
_LINEAR_FIELDS = frozenset({"ofType"})
MAX_OF_TYPE_CHAIN = 9


@dataclass(frozen=True)
class OperationLimits:
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_fields: int = 1000
    max_field_repeats: int = 10
    max_cost: int = 4612  # four times the Business API document's example query (1153)


@dataclass(frozen=True)
class Shape:
    """A selection set's size with every fragment spread expanded where it is used."""

    depth: int = 0
    fields: int = 0
    aliases: int = 0
    leading_chain: int = 0  # `ofType` nested in `ofType`, from this selection set down
    longest_chain: int = 0  # the longest such chain anywhere inside

    def merge(self, other: Shape) -> Shape:
        return Shape(
            max(self.depth, other.depth),
            self.fields + other.fields,
            self.aliases + other.aliases,
            max(self.leading_chain, other.leading_chain),
            max(self.longest_chain, other.longest_chain),
        )


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


class _Measure:
    """Shapes of selection sets, each fragment measured once (a cycle counts as empty:
    validation reports it)."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self._fragments = fragments
        self._measured: dict[str, Shape] = {}
        self._measuring: set[str] = set()

    def fragment(self, name: str) -> Shape:
        if name in self._measured:
            return self._measured[name]
        fragment = self._fragments.get(name)
        if fragment is None or name in self._measuring:
            return Shape()
        self._measuring.add(name)
        shape = self.selections(fragment.selection_set)
        self._measuring.discard(name)
        self._measured[name] = shape
        return shape

    def selections(self, selection_set: SelectionSetNode | None) -> Shape:
        total = Shape()
        if selection_set is None:
            return total
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self.selections(selection.selection_set)
                linear = selection.name.value in _LINEAR_FIELDS
                alias = 1 if selection.alias is not None else 0
                leading = 1 + inner.leading_chain if linear else 0
                total = total.merge(
                    Shape(
                        inner.depth + (0 if linear else 1),
                        1 + inner.fields,
                        alias + inner.aliases,
                        leading,
                        max(leading, inner.longest_chain),
                    )
                )
            elif isinstance(selection, InlineFragmentNode):
                total = total.merge(self.selections(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                total = total.merge(self.fragment(selection.name.value))
        return total


def _fields_of(
    selection_sets: list[SelectionSetNode],
    fragments: dict[str, FragmentDefinitionNode],
    spreading: frozenset[str] = frozenset(),
) -> dict[str, list[FieldNode]]:
    """The fields these selection sets select together, by response key, with inline
    fragments and spreads flattened into them, as execution merges them."""
    found: dict[str, list[FieldNode]] = {}
    for selection_set in selection_sets:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                found.setdefault(key, []).append(selection)
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = _fields_of([selection.selection_set], fragments, spreading)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in spreading:
                    continue
                inner = _fields_of([fragment.selection_set], fragments, spreading | {name})
            else:
                continue
            for key, nodes in inner.items():
                found.setdefault(key, []).extend(nodes)
    return found


def most_repeated(document: DocumentNode) -> tuple[str, int]:
    """The response key selected most often in one place once same-key fields are merged
    (their sub-selections too), and how often. Validation compares such fields pairwise,
    so its work grows with the square of this number.

    Only call it on a document whose expanded size is already bounded: it expands."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    worst = ("", 0)
    pending = [
        [d.selection_set] for d in document.definitions if isinstance(d, OperationDefinitionNode)
    ]
    while pending:
        for key, nodes in _fields_of(pending.pop(), fragments).items():
            if len(nodes) > worst[1]:
                worst = (key, len(nodes))
            inner = [node.selection_set for node in nodes if node.selection_set is not None]
            if inner:
                pending.append(inner)
    return worst


def measure(document: DocumentNode) -> Shape:
    """The largest depth, and the fields and aliases of all operations together."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measuring = _Measure(fragments)
    total = Shape()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total = total.merge(measuring.selections(definition.selection_set))
    return total


def check_shape(document: DocumentNode, limits: OperationLimits) -> list[GraphQLError]:
    shape = measure(document)
    errors = []
    if shape.fields > limits.max_fields:
        errors.append(
            _error(
                f"The operation selects {shape.fields} fields once its fragments are expanded; "
                f"the limit is {limits.max_fields}.",
                ErrorCode.MAX_FIELDS_EXCEEDED,
                limits.max_fields,
            )
        )
    else:
        key, repeats = most_repeated(document)
        if repeats > limits.max_field_repeats:
            errors.append(
                _error(
                    f"`{key}` is selected {repeats} times in one place once fragments and "
                    f"same-named fields are merged; the limit is {limits.max_field_repeats}.",
                    ErrorCode.MAX_FIELDS_EXCEEDED,
                    limits.max_field_repeats,
                )
            )
    if shape.depth > limits.max_depth:
        errors.append(
            _error(
                f"The operation is {shape.depth} levels deep; the limit is {limits.max_depth}.",
                ErrorCode.MAX_DEPTH_EXCEEDED,
                limits.max_depth,
            )
        )
    if shape.longest_chain > MAX_OF_TYPE_CHAIN:
        errors.append(
            _error(
                f"The operation nests `ofType` {shape.longest_chain} times; the limit is "
                f"{MAX_OF_TYPE_CHAIN}, as deep as the standard introspection query goes.",
                ErrorCode.MAX_DEPTH_EXCEEDED,
                MAX_OF_TYPE_CHAIN,
            )
        )
    if shape.aliases > limits.max_aliases:
        errors.append(
            _error(
                f"The operation uses {shape.aliases} aliases once its fragments are expanded; "
                f"the limit is {limits.max_aliases}.",
                ErrorCode.MAX_ALIASES_EXCEEDED,
                limits.max_aliases,
            )
        )
    return errors
