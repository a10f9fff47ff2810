"""Limits on one operation's shape, checked after parsing and before anything else runs.

Deep nesting, many aliases, huge documents and fragments that fan out are how one request
asks for a great deal of work; each is refused with its own code and the limit in the
message.

The shape comes from the document's analysis (`schema/engine/analysis.py`), which visits
each fragment once however often it is spread, so the check is linear in the document
however the fragments multiply. The number of fields after fragment expansion is bounded
too: thirteen fragments spreading the next one four times are 183 tokens but 4^12
fields, and every later stage (the policy, validation, execution) is only safe once that
is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLError, Source, TokenKind
from graphql.language import Lexer

from schema.engine.analysis import Analysis, Field, Selection
from schema.errors import ErrorCode

# No type here is wrapped more than three times; the standard introspection query nests
# `ofType` nine times, and a chain of any length would otherwise be free.
MAX_OF_TYPE_CHAIN = 9


@dataclass(frozen=True)
class OperationLimits:
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_fields: int = 1000
    max_field_repeats: int = 10
    max_cost: int = 4612  # four times the Business API document's example query (1153)


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


def _fields_of(
    selections: list[Selection], spreading: frozenset[str] = frozenset()
) -> dict[str, list[Field]]:
    """The fields these selections select together, by response key, with inline
    fragments and spreads flattened into them, as execution merges them."""
    found: dict[str, list[Field]] = {}
    for selection in selections:
        for item in selection.items:
            if isinstance(item, Field):
                found.setdefault(item.key, []).append(item)
                continue
            if item.selection is None or (item.name is not None and item.name in spreading):
                continue
            inner = _fields_of(
                [item.selection], spreading | {item.name} if item.name else spreading
            )
            for key, fields in inner.items():
                found.setdefault(key, []).extend(fields)
    return found


def most_repeated(analysis: Analysis) -> tuple[str, int]:
    """The response key selected most often in one place once same-key fields are merged
    (their sub-selections too), and how often. Validation compares such fields pairwise,
    so its work grows with the square of this number.

    Only call it on a document whose expanded size is already bounded: it expands."""
    worst = ("", 0)
    pending = [[selection] for _, selection in analysis.operations]
    while pending:
        for key, fields in _fields_of(pending.pop()).items():
            if len(fields) > worst[1]:
                worst = (key, len(fields))
            inner = [f.inner for f in fields if f.inner is not None]
            if inner:
                pending.append(inner)
    return worst


def check_shape(analysis: Analysis, limits: OperationLimits) -> list[GraphQLError]:
    shape = analysis.shape
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
        key, repeats = most_repeated(analysis)
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
