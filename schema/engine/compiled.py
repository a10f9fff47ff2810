"""Compiled execution: a validated query turned once into a plan, then run without
graphql-core's per-field machinery.

The plan is derived from the Strawberry schema, never written by hand: the fields
collected from the document's analysis (`schema/engine/collect.py`: fragments flattened,
same-named fields merged, `@skip`/`@include` resolved for the variables the directives
use) give each object type's fields with their response keys; each field's Strawberry
definition says how to get its value (an attribute, a resolver of `self` alone, or a read
function in the field's metadata for fields that load); the GraphQL type says how to
serialise it (the scalars' and enums' own `serialize`) and whether it may be null.

A plan runs breadth-first: the fields that load are collected across a whole level of
objects (every participant of the page) and read together, so the per-request loaders
batch them into one call per relation; the rest is written straight into plain dicts.

The Strawberry executor stays the reference and the fallback: a document the compiler
does not handle (introspection, abstract types, a field without a way to read it) never
gets a plan, and a run that meets what the plan does not model (an argument or cursor
refused, a null where the schema promises a value) is thrown away and run again by
Strawberry on the same request context, whose loaders already hold what was fetched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, overload

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    OperationType,
    is_leaf_type,
    is_object_type,
    located_error,
)
from graphql.execution.executor import Executor as GraphQLExecutor
from graphql.execution.values import get_argument_values

from schema.engine.analysis import Analysis, Field
from schema.engine.collect import Collector, Grouped
from schema.errors import ClientError
from schema.types.reading import READ

LEAF, LEAVES, OBJECT, OBJECTS, LOADS, TYPENAME = range(6)


class Uncompiled(Exception):
    """This document, or this run of it, is for the Strawberry executor."""


@dataclass(eq=False)
class FieldPlan:
    key: str  # the response key (an alias, or the field's name)
    kind: int
    nullable: bool
    items_nullable: bool = True
    get: Callable[[Any], Any] | None = None  # a value the parent holds
    attribute: str | None = None  # when that value is simply an attribute of it
    read: Callable[..., Any] | None = None  # or one that loads (LOADS)
    returns_list: bool = False
    serialize: Callable[[Any], Any] | None = None
    child: ObjectPlan | None = None
    definition: GraphQLField | None = None
    nodes: list[FieldNode] = field(default_factory=list)


@dataclass(eq=False)
class ObjectPlan:
    type_name: str
    fields: list[FieldPlan]
    # Whether anything below loads: only then do its objects need their response paths.
    loads: bool = False
    # write(run, value, path) -> the object's response dict, generated for these fields.
    write: Callable[[Any, Any, Any], dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.loads = any(
            f.kind == LOADS or (f.child is not None and f.child.loads) for f in self.fields
        )
        self.write = _writer(self)


@dataclass(eq=False)
class Plan:
    root: ObjectPlan


# -- compiling


class _Fields:
    """The Strawberry definition of every field, by GraphQL type and field name."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self._schema = schema
        self._by_type: dict[str, dict[str, Any]] = {}

    def of(self, type_name: str, field_name: str) -> Any:
        if type_name not in self._by_type:
            definition = self._schema.get_type_by_name(type_name)
            converter = self._schema.config.name_converter
            self._by_type[type_name] = {
                converter.get_graphql_name(f): f for f in getattr(definition, "fields", [])
            }
        found = self._by_type[type_name].get(field_name)
        if found is None:
            raise Uncompiled(f"{type_name}.{field_name} has no Strawberry definition")
        return found


def _value_getter(strawberry_field: Any) -> tuple[Callable[[Any], Any] | None, Any]:
    """(a getter of the value the parent holds, or None) and the read function."""
    read = (strawberry_field.metadata or {}).get(READ)
    if read is not None:
        return None, read
    resolver = strawberry_field.base_resolver
    if resolver is None:
        return attrgetter(strawberry_field.python_name), None
    if resolver.is_async or resolver.arguments or resolver.info_parameter:
        raise Uncompiled(f"{strawberry_field.python_name} loads without a read function")
    return resolver.wrapped_func, None


class _Compiler:
    def __init__(
        self, schema: strawberry.Schema, analysis: Analysis, built: GraphQLExecutor
    ) -> None:
        self.schema = schema._schema
        self.fields = _Fields(schema)
        self.analysis = analysis
        self.built = built
        self.collector = Collector(self.schema, built.variable_values)

    def root(self) -> ObjectPlan:
        operation = self.built.operation
        if operation.operation is not OperationType.QUERY:
            raise Uncompiled("only queries are compiled")
        root_type = self.schema.query_type
        assert root_type is not None
        selection = self.analysis.selection_of(operation)
        return self.object(root_type, self.collector.collect(root_type, [selection]))

    def object(self, object_type: GraphQLObjectType, grouped: Grouped) -> ObjectPlan:
        plans = [self.field(object_type, key, list(f.values())) for key, f in grouped.items()]
        return ObjectPlan(object_type.name, plans)

    def field(self, parent: GraphQLObjectType, key: str, fields: list[Field]) -> FieldPlan:
        nodes = [f.node for f in fields]
        name = nodes[0].name.value
        if name == "__typename":
            return FieldPlan(key, TYPENAME, nullable=False, nodes=nodes)
        if name.startswith("__"):
            raise Uncompiled("introspection runs on Strawberry")
        if any(d.name.value in ("defer", "stream") for n in nodes for d in n.directives or ()):
            raise Uncompiled("@defer and @stream run on Strawberry")
        definition = parent.fields[name]
        strawberry_field = self.fields.of(parent.name, name)
        if strawberry_field.extensions or strawberry_field.permission_classes:
            # What they do around the resolver happens on Strawberry's path only.
            raise Uncompiled(f"{parent.name}.{name} has field extensions or permissions")
        get, read = _value_getter(strawberry_field)
        output: GraphQLOutputType = definition.type
        nullable = not isinstance(output, GraphQLNonNull)
        inner = output.of_type if isinstance(output, GraphQLNonNull) else output
        returns_list, items_nullable = False, True
        if isinstance(inner, GraphQLList):
            returns_list = True
            items_nullable = not isinstance(inner.of_type, GraphQLNonNull)
            inner = inner.of_type.of_type if not items_nullable else inner.of_type
            if isinstance(inner, GraphQLList):
                raise Uncompiled("lists of lists run on Strawberry")
        plan = FieldPlan(
            key,
            LOADS if read else LEAVES if returns_list else LEAF,
            nullable=nullable,
            items_nullable=items_nullable,
            get=get,
            attribute=strawberry_field.python_name if isinstance(get, attrgetter) else None,
            read=read,
            returns_list=returns_list,
            definition=definition,
            nodes=nodes,
        )
        if is_leaf_type(inner):
            serialize = inner.serialize  # type: ignore[union-attr]
            plan.serialize = (
                _memoised(serialize) if isinstance(inner, GraphQLEnumType) else serialize
            )
        elif is_object_type(inner):
            assert isinstance(inner, GraphQLObjectType)
            plan.child = self.object(inner, self.collector.subfields(inner, fields))
            if not read:
                plan.kind = OBJECTS if returns_list else OBJECT
        else:
            raise Uncompiled("abstract types run on Strawberry")
        return plan


def _memoised(serialize: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An enum's own serialisation, remembered: it has a handful of values."""
    seen: dict[Any, Any] = {}

    def serialized(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = result = serialize(value)
            return result

    return serialized


def plan_key(analysis: Analysis, built: GraphQLExecutor) -> Hashable:
    """What the plan depends on besides the document: the operation's name and the values
    of the variables `@skip` and `@include` read."""
    coerced = built.variable_values.coerced
    values = tuple(_hashable(coerced.get(name)) for name in analysis.directive_variables)
    return (built.operation.name.value if built.operation.name else None, values)


def _hashable(value: Any) -> Hashable:
    return value if isinstance(value, Hashable) else repr(value)


def compile_plan(
    schema: strawberry.Schema, analysis: Analysis, built: GraphQLExecutor
) -> Plan | None:
    """The plan for this operation (with these directive variables), from the document's
    analysis, or None when the document is for the Strawberry executor."""
    try:
        return Plan(_Compiler(schema, analysis, built).root())
    except Uncompiled:
        return None


# -- writing
#
# Each object plan's writer is generated Python (the technique of graphql-jit): one dict
# display per object with its fields' getters and serialisers bound as constants, where
# a writer over the plan objects loops over the fields and dispatches on each one's kind.
# Measured on the document's example answer (2,995 keys; `python
# benchmarks/plan_writers.py` on CPython 3.11: callgrind over 50 answers less a run
# writing none, and the best of 200 timeit rounds), getters and serialisers included,
# the generated writers cost 8.02 M instructions and 0.72 ms an answer; the loop over
# `plan.fields` 11.58 M and 1.08 ms (1.45×, 1.50×), and the same loop over each field's
# parts unpacked from a tuple 10.30 M and 0.92 ms (1.29×, 1.27×).


def _null() -> Any:
    raise Uncompiled("a null where the schema promises a value")


def _writer(plan: ObjectPlan) -> Callable[[Any, Any, Any], dict[str, Any]]:
    names: dict[str, Any] = {"_null": _null}
    entries: list[str] = []
    loading: list[str] = []

    def bind(name: str, value: Any) -> str:
        names[name] = value
        return name

    for i, f in enumerate(plan.fields):
        key = repr(f.key)
        if f.kind == TYPENAME:
            entries.append(f"{key}: {plan.type_name!r}")
            continue
        if f.kind == LOADS:
            entries.append(f"{key}: None")
            loading.append(f"pending((f{i}, value, out, (path, {key})))")
            bind(f"f{i}", f)
            continue
        got = _getter(f, bind, f"g{i}")
        if f.kind == LEAF:
            written = _serializer(f, bind, f"s{i}", f"v{i}")
        elif f.kind == OBJECT:
            assert f.child is not None
            child_path = f"(path, {key})" if f.child.loads else "None"
            written = f"{bind(f'w{i}', f.child.write)}(run, v{i}, {child_path})"
        else:  # lists, and objects of lists: the general completion
            entries.append(f"{key}: run.complete({bind(f'f{i}', f)}, {got}, (path, {key}))")
            continue
        otherwise = "None" if f.nullable else "_null()"
        entries.append(f"{key}: {written} if (v{i} := {got}) is not None else {otherwise}")
    body = ["def write(run, value, path):", f"    out = {{{', '.join(entries)}}}"]
    if loading:
        body.append("    pending = run.pending.append")
        body += [f"    {line}" for line in loading]
    body.append("    return out")
    exec(compile("\n".join(body), f"<plan for {plan.type_name}>", "exec"), names)  # noqa: S102
    return names["write"]  # type: ignore[no-any-return]


def _getter(f: FieldPlan, bind: Callable[[str, Any], str], name: str) -> str:
    if f.attribute is not None and f.attribute.isidentifier():
        return f"value.{f.attribute}"
    return f"{bind(name, f.get)}(value)"


def _serializer(f: FieldPlan, bind: Callable[[str, Any], str], name: str, value: str) -> str:
    serialize = f.serialize
    if serialize is GraphQLString.serialize or serialize is GraphQLID.serialize:
        # Both give a string back unchanged; anything else takes their own conversion.
        return f"({value} if {value}.__class__ is str else {bind(name, serialize)}({value}))"
    return f"{bind(name, serialize)}({value})"


# -- running

Path = tuple[Any, str | int] | None  # linked: (parent path, key); None at the root


def _as_list(path: Path) -> list[str | int]:
    keys: list[str | int] = []
    while path is not None:
        path, key = path
        keys.append(key)
    keys.reverse()
    return keys


class _Paths(Sequence[list[str | int]]):
    """The response paths of a level's parents, each spelled out only when asked for (a
    read looks at one only to place an error)."""

    def __init__(self, linked: list[Path]) -> None:
        self._linked = linked

    def __len__(self) -> int:
        return len(self._linked)

    @overload
    def __getitem__(self, index: int) -> list[str | int]: ...
    @overload
    def __getitem__(self, index: slice) -> list[list[str | int]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [_as_list(path) for path in self._linked[index]]
        return _as_list(self._linked[index])


class _Run:
    def __init__(self, context: Any, built: GraphQLExecutor) -> None:
        self.context = context
        self.variables = built.variable_values
        self.errors: list[GraphQLError] = []
        self.pending: list[tuple[FieldPlan, Any, dict[str, Any], Path]] = []
        self._arguments: dict[int, dict[str, Any]] = {}

    def arguments(self, plan: FieldPlan) -> dict[str, Any]:
        """Coerced once per field per request, by graphql-core's own coercion."""
        found = self._arguments.get(id(plan))
        if found is None:
            assert plan.definition is not None
            found = get_argument_values(plan.definition, plan.nodes[0], self.variables)
            self._arguments[id(plan)] = found
        return found

    def complete(self, plan: FieldPlan, value: Any, path: Path) -> Any:
        if value is None:
            if not plan.nullable:
                raise Uncompiled("a null where the schema promises a value")
            return None
        child = plan.child
        if plan.returns_list:
            if child is None:
                serialize = plan.serialize
                assert serialize is not None
                if not plan.items_nullable and None in value:
                    raise Uncompiled("a null item where the schema promises one")
                return [None if item is None else serialize(item) for item in value]
            if not plan.items_nullable and None in value:
                raise Uncompiled("a null item where the schema promises one")
            write = child.write
            if child.loads:
                return [
                    None if item is None else write(self, item, (path, i))
                    for i, item in enumerate(value)
                ]
            return [None if item is None else write(self, item, None) for item in value]
        if child is not None:
            return child.write(self, value, path)
        assert plan.serialize is not None
        return plan.serialize(value)

    async def load(
        self, plan: FieldPlan, pending: list[tuple[Any, dict[str, Any], Path]]
    ) -> list[Any]:
        """One read for every parent at this level asking for this field."""
        assert plan.read is not None
        arguments = self.arguments(plan) if plan.definition and plan.definition.args else {}
        parents = [parent for parent, _, _ in pending]
        paths = _Paths([path for _, _, path in pending])
        return await plan.read(self.context, parents, arguments, paths)  # type: ignore[no-any-return]

    async def run(self, plan: Plan) -> dict[str, Any]:
        data = plan.root.write(self, None, None)
        while self.pending:
            level: dict[FieldPlan, list[tuple[Any, dict[str, Any], Path]]] = {}
            for field_plan, parent, out, path in self.pending:
                level.setdefault(field_plan, []).append((parent, out, path))
            self.pending = []
            # Every read of the level at once; each reads for all of its parents.
            results = await asyncio.gather(
                *(self.load(f, pending) for f, pending in level.items()), return_exceptions=True
            )
            for (field_plan, pending), values in zip(level.items(), results, strict=True):
                for i, (_, out, path) in enumerate(pending):
                    value = values if isinstance(values, BaseException) else values[i]
                    if isinstance(value, BaseException):
                        out[field_plan.key] = self.failed(field_plan, value, path)
                    else:
                        out[field_plan.key] = self.complete(field_plan, value, path)
        return data

    def failed(self, plan: FieldPlan, error: BaseException, path: Path) -> Any:
        """A client-safe failure of a nullable field is an error there and a null, as
        graphql-core makes it; anything else is for the Strawberry executor."""
        if isinstance(error, asyncio.CancelledError):
            raise error
        if isinstance(error, ClientError) and plan.nullable:
            self.errors.append(located_error(error, plan.nodes, _as_list(path)))
            return None
        raise Uncompiled("a failure the plan does not model") from error


async def run_plan(
    plan: Plan, context: Any, built: GraphQLExecutor
) -> tuple[dict[str, Any], list[GraphQLError]]:
    """The data, and the errors graphql-core would have reported (the request context
    keeps the partial ones). Raises `Uncompiled` to have Strawberry run it instead."""
    run = _Run(context, built)
    data = await run.run(plan)
    return data, run.errors


def build(
    schema: strawberry.Schema,
    document: DocumentNode,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> GraphQLExecutor | list[GraphQLError]:
    """graphql-core's preparation of an operation: its fragments, the chosen operation,
    the coerced variables (or the errors to answer with)."""
    return GraphQLExecutor.build(
        schema._schema, document, raw_variable_values=variables, operation_name=operation_name
    )
