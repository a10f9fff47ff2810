"""One pass over a parsed document, whose result every later step reads instead of the
syntax tree: the operation limits (its shape), the policy's verdict, the price and the
compiled plan (the fields collected for each object).

The pass visits each selection set once where it is written and each fragment once,
however often it is spread: a spread refers to the fragment's analysed selection, so the
result is a graph as large as the document, never the expansion of its fragments. Every
field is typed against the schema where the schema knows it (an unknown type or field is
kept untyped: validation reports it later, after the limits are checked). A spread of a
fragment into itself (directly or not) analyses to nothing, as validation refuses it.

Along the way it notes the variables the later steps depend on: those `first` reads (the
price) and those `@skip`/`@include` read (the collected fields, so the price and the plan).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

# Introspection's `ofType` follows one type wrapper to the next: a chain, never a fan-out, so
# it is not counted as depth, which lets every client's standard introspection query (which
# nests it nine times) through the depth limit. The chain's own length is measured apart.
LINEAR_FIELDS = frozenset({"ofType"})


@dataclass(frozen=True, slots=True)
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


@dataclass(eq=False, slots=True)
class Field:
    """A field as written in one selection set."""

    node: FieldNode
    key: str  # its response key: the alias, or the field's name
    parent: GraphQLNamedType | None  # the type it is selected on, when the schema knows it
    definition: GraphQLField | None  # None for `__typename`, introspection, unknown fields
    inner: Selection | None  # its own selection set, typed by the field's type


@dataclass(eq=False, slots=True)
class Fragment:
    """An inline fragment (`name` None) or a fragment spread, as written."""

    node: InlineFragmentNode | FragmentSpreadNode
    name: str | None
    condition: str | None  # the type condition's name (None: the parent's type)
    selection: Selection | None  # None: an unknown fragment, or one spread into itself


@dataclass(eq=False, slots=True)
class Selection:
    type: GraphQLNamedType | None
    items: list[Field | Fragment]
    shape: Shape


@dataclass(eq=False)
class Analysis:
    operations: list[tuple[OperationDefinitionNode, Selection]]
    shape: Shape  # every operation's together
    price_variables: tuple[str, ...]  # read by `first` or by `@skip`/`@include`
    directive_variables: tuple[str, ...]  # read by `@skip`/`@include`
    fragments: dict[str, Selection] = field(default_factory=dict)  # each analysed once

    def selection_of(self, operation: OperationDefinitionNode) -> Selection:
        """The analysed selection of one of the document's operations."""
        return next(selection for node, selection in self.operations if node is operation)


class _Analyser:
    def __init__(self, schema: GraphQLSchema | None, document: DocumentNode) -> None:
        self.schema = schema
        self.definitions = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.fragments: dict[str, Selection] = {}
        self.analysing: set[str] = set()
        self.first_variables: set[str] = set()
        self.directive_variables: set[str] = set()

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.schema.get_type(name) if self.schema is not None else None

    def selection(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None
    ) -> Selection:
        items: list[Field | Fragment] = []
        shape = Shape()
        for node in selection_set.selections:
            if node.directives:
                self._note_directives(node.directives)
            if isinstance(node, FieldNode):
                found = self.field(node, parent)
                items.append(found)
                shape = shape.merge(_field_shape(found))
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition.name.value if node.type_condition else None
                target = self._type(condition) if condition else parent
                inner = self.selection(node.selection_set, target)
                items.append(Fragment(node, None, condition, inner))
                shape = shape.merge(inner.shape)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                definition = self.definitions.get(name)
                spread = self.fragment(name)
                condition = definition.type_condition.name.value if definition else None
                items.append(Fragment(node, name, condition, spread))
                if spread is not None:
                    shape = shape.merge(spread.shape)
        return Selection(parent, items, shape)

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Field:
        for argument in node.arguments or ():
            if argument.name.value == "first" and isinstance(argument.value, VariableNode):
                self.first_variables.add(argument.value.name.value)
        definition = None
        if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            definition = parent.fields.get(node.name.value)
        inner = None
        if node.selection_set is not None:
            target = get_named_type(definition.type) if definition is not None else None
            inner = self.selection(node.selection_set, target)
        key = node.alias.value if node.alias else node.name.value
        return Field(node, key, parent, definition, inner)

    def fragment(self, name: str) -> Selection | None:
        """The fragment's selection, analysed the first time it is spread."""
        found = self.fragments.get(name)
        if found is not None:
            return found
        definition = self.definitions.get(name)
        if definition is None or name in self.analysing:
            return None
        self.analysing.add(name)
        condition = self._type(definition.type_condition.name.value)
        found = self.selection(definition.selection_set, condition)
        self.analysing.discard(name)
        self.fragments[name] = found
        return found

    def _note_directives(self, directives: Iterable[DirectiveNode]) -> None:
        for directive in directives:
            if directive.name.value in ("skip", "include"):
                for argument in directive.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        self.directive_variables.add(argument.value.name.value)


def _field_shape(found: Field) -> Shape:
    inner = found.inner.shape if found.inner is not None else Shape()
    linear = found.node.name.value in LINEAR_FIELDS
    leading = 1 + inner.leading_chain if linear else 0
    return Shape(
        inner.depth + (0 if linear else 1),
        1 + inner.fields,
        (1 if found.node.alias is not None else 0) + inner.aliases,
        leading,
        max(leading, inner.longest_chain),
    )


def analyse(document: DocumentNode, schema: GraphQLSchema | None = None) -> Analysis:
    """The document's analysis, typed against `schema` (untyped without one)."""
    analyser = _Analyser(schema, document)
    operations: list[tuple[OperationDefinitionNode, Selection]] = []
    shape = Shape()
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        root = schema.get_root_type(definition.operation) if schema is not None else None
        selection = analyser.selection(definition.selection_set, root)
        operations.append((definition, selection))
        shape = shape.merge(selection.shape)
    directives = tuple(sorted(analyser.directive_variables))
    return Analysis(
        operations,
        shape,
        tuple(sorted(analyser.first_variables | analyser.directive_variables)),
        directives,
        analyser.fragments,
    )
