"""Generated operations that exercise what an executor must get right, for the
differential test of the compiled executor against Strawberry's.

hypothesis-graphql draws fields and arguments, but never aliases, fragments, directives or
variables, which are exactly where a compiled plan can go wrong. Here every operation is
drawn from the schema a key introspects with a seeded `random.Random`, so a run draws the
same corpus every time and a failure names its operation. Each operation mixes:

- aliases, and the same field selected again (with the same arguments, as validation
  requires of one response key), at the same level and through fragments;
- named fragments and inline fragments, with and without a type condition;
- `@skip` and `@include` with literal conditions and with Boolean variables;
- `__typename`, aliased or not;
- every pagination argument: `first` as a literal or a variable (1 to 100, now and then
  out of range), `after` left out, null, a genuine cursor from an earlier page, a cursor of
  another list, or garbage, as a literal or a variable.

A response key's arguments are drawn once per operation and reused wherever the key
appears again, so operations are valid unless a drawn value itself is out of range.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_leaf_type,
)

MAX_DEPTH = 5


@dataclass(frozen=True)
class DrawnOperation:
    query: str
    variables: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {"query": self.query, "variables": self.variables}


@dataclass
class _Draw:
    schema: GraphQLSchema
    rng: random.Random
    cursors: Mapping[str, Sequence[str]]  # `Type.field` -> genuine `after` values
    variables: dict[str, tuple[str, Any]] = field(default_factory=dict)  # name -> (type, value)
    fragments: dict[str, str] = field(default_factory=dict)  # name -> definition
    arguments: dict[tuple[str, str], str] = field(default_factory=dict)  # (type, key) -> text

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def variable(self, type_name: str, value: Any) -> str:
        name = f"v{len(self.variables)}"
        self.variables[name] = (type_name, value)
        return f"${name}"

    def condition(self) -> str:
        """` @skip(...)` or ` @include(...)`, now and then; mostly nothing."""
        if not self.chance(0.15):
            return ""
        directive = self.rng.choice(("skip", "include"))
        value = self.rng.random() < 0.5
        text = self.variable("Boolean!", value) if self.chance(0.5) else json.dumps(value)
        return f" @{directive}(if: {text})"

    def first(self) -> str:
        value = self.rng.choice((1, 2, 3, 5, 10, 25, self.rng.randint(1, 100)))
        if self.chance(0.05):
            value = self.rng.choice((0, -1, 101))
        if self.chance(0.3):
            return self.variable("Int", value)
        return str(value)

    def after(self, coordinate: str) -> str | None:
        """Mostly a cursor that belongs (or none); one time in ten one that does not."""
        genuine = list(self.cursors.get(coordinate, ()))
        others = [c for key, values in self.cursors.items() if key != coordinate for c in values]
        roll = self.rng.random()
        value: str | None
        if roll < 0.5:
            return None
        if roll < 0.65:
            value = None
        elif roll < 0.9:
            if not genuine:
                return None
            value = self.rng.choice(genuine)
        elif others and roll < 0.95:
            value = self.rng.choice(others)
        else:
            value = self.rng.choice(("garbage", "", "eyJ2IjoxfQ.AAAA"))
        if self.chance(0.4):
            return self.variable("String", value)
        return json.dumps(value)

    def argument_text(self, parent: GraphQLObjectType, key: str, name: str, f: GraphQLField) -> str:
        known = self.arguments.get((parent.name, key))
        if known is not None:
            return known
        parts = []
        for argument in f.args:
            if argument == "first" and self.chance(0.85):
                parts.append(f"first: {self.first()}")
            elif argument == "after":
                after = self.after(f"{parent.name}.{name}")
                if after is not None:
                    parts.append(f"after: {after}")
        text = f"({', '.join(parts)})" if parts else ""
        self.arguments[(parent.name, key)] = text
        return text

    def selection(self, parent: GraphQLObjectType, depth: int) -> str:
        names = list(parent.fields)
        picked = self.rng.sample(names, self.rng.randint(1, len(names)))
        parts: list[str] = []
        for name in picked:
            parts.append(self.field(parent, name, depth))
            if self.chance(0.1):  # the same field again: it merges into one response key
                parts.append(parts[-1])
        if self.chance(0.2):
            alias = f"t{self.rng.randint(0, 2)}: " if self.chance(0.5) else ""
            parts.append(f"{alias}__typename")
        if depth < MAX_DEPTH and self.chance(0.25):
            parts.append(self.inline(parent, depth))
        if depth < MAX_DEPTH and self.chance(0.2):
            parts.append(self.spread(parent, depth))
        self.rng.shuffle(parts)
        return "{ " + " ".join(parts) + " }"

    def field(self, parent: GraphQLObjectType, name: str, depth: int) -> str:
        f = parent.fields[name]
        # Few aliases, so that the same alias meets its own arguments again in fragments.
        alias = f"{name}_{self.rng.randint(1, 2)}" if self.chance(0.25) else None
        key = alias or name
        text = f"{alias}: {name}" if alias else name
        text += self.argument_text(parent, key, name, f)
        text += self.condition()
        inner = get_named_type(f.type)
        if is_leaf_type(inner):
            return text
        assert isinstance(inner, GraphQLObjectType)
        if depth >= MAX_DEPTH:
            return f"{text} {{ __typename }}"
        return f"{text} {self.selection(inner, depth + 1)}"

    def inline(self, parent: GraphQLObjectType, depth: int) -> str:
        condition = f" on {parent.name}" if self.chance(0.6) else ""
        return f"...{condition}{self.condition()} {self.selection(parent, depth + 1)}"

    def spread(self, parent: GraphQLObjectType, depth: int) -> str:
        name = f"F{len(self.fragments)}"
        self.fragments[name] = "reserved"  # a fragment may spread others, never itself
        body = self.selection(parent, depth + 1)
        self.fragments[name] = f"fragment {name} on {parent.name} {body}"
        return f"...{name}{self.condition()}"

    def operation(self) -> DrawnOperation:
        query_type = self.schema.query_type
        assert query_type is not None
        body = self.selection(query_type, 1)
        declared = ", ".join(f"${n}: {t}" for n, (t, _) in self.variables.items())
        name = f"Op{self.rng.randint(0, 9)}" if self.chance(0.5) else ""
        header = f"query {name}({declared})" if declared else (f"query {name}" if name else "")
        document = " ".join([header, body, *self.fragments.values()]).strip()
        values = {n: v for n, (_, v) in self.variables.items()}
        return DrawnOperation(document, values)


def draw_operations(
    schema: GraphQLSchema, cursors: Mapping[str, Sequence[str]], count: int, seed: int = 0
) -> list[DrawnOperation]:
    rng = random.Random(seed)
    return [_Draw(schema, rng, cursors).operation() for _ in range(count)]
