"""The fields of each object an operation selects, collected from the document's analysis
as graphql-core's execution collects them: fragments and inline fragments flattened into
their parent where their type condition matches, fields of one response key merged (with
their sub-selections), `@skip`/`@include` resolved from the variables. The price and the
compiled plan both read this; neither walks the document.

Each fragment is collected once per object type it is spread on, so collecting is linear
in the analysis however the fragments multiply.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    is_abstract_type,
)
from graphql.execution.values import VariableValues, get_directive_values

from schema.engine.analysis import Field, Fragment, Selection

# response key -> its fields, each once (by identity), in the order execution meets them
Grouped = dict[str, dict[int, Field]]


class Collector:
    """Collects for one schema and one set of variable values."""

    def __init__(self, schema: GraphQLSchema, variables: VariableValues) -> None:
        self.schema = schema
        self.variables = variables
        self._spread: dict[tuple[str, str], Grouped] = {}
        self._spreading: set[tuple[str, str]] = set()

    def collect(self, type_: GraphQLObjectType, selections: Iterable[Selection]) -> Grouped:
        grouped: Grouped = {}
        visited: set[str] = set()
        for selection in selections:
            self._visit(type_, selection, grouped, visited)
        return grouped

    def subfields(self, type_: GraphQLObjectType, fields: Iterable[Field]) -> Grouped:
        """What the merged fields `fields` select together on an object of `type_`."""
        return self.collect(type_, [f.inner for f in fields if f.inner is not None])

    def _visit(
        self, type_: GraphQLObjectType, selection: Selection, grouped: Grouped, visited: set[str]
    ) -> None:
        for item in selection.items:
            if item.node.directives and not self._included(item.node):
                continue
            if isinstance(item, Field):
                grouped.setdefault(item.key, {})[id(item)] = item
            elif item.name is None:
                if item.selection is not None and self._matches(item, type_):
                    self._visit(type_, item.selection, grouped, visited)
            elif item.name not in visited:
                visited.add(item.name)
                for key, fields in self._fragment(type_, item).items():
                    grouped.setdefault(key, {}).update(fields)

    def _fragment(self, type_: GraphQLObjectType, spread: Fragment) -> Grouped:
        """A fragment's fields on this type, collected the first time it is spread there
        (fields are kept by identity, so merging them again where the fragment is spread
        twice changes nothing). A cycle collects nothing: validation refuses it."""
        assert spread.name is not None
        key = (spread.name, type_.name)
        found = self._spread.get(key)
        if found is not None:
            return found
        if spread.selection is None or key in self._spreading:
            return {}
        found = {}
        if self._matches(spread, type_):
            self._spreading.add(key)
            found = self.collect(type_, [spread.selection])
            self._spreading.discard(key)
        self._spread[key] = found
        return found

    def _matches(self, fragment: Fragment, type_: GraphQLObjectType) -> bool:
        if fragment.condition is None:
            return True
        condition = self.schema.get_type(fragment.condition)
        if condition is type_:
            return True
        return is_abstract_type(condition) and self.schema.is_sub_type(condition, type_)  # type: ignore[arg-type]

    def _included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip["if"]:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and not include["if"])
