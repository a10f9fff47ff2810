"""Loading and validating the policy file (`policies/business-api.toml`).

The file has a `[scopes]` table (scope name → what it grants), the scopes every key has
(`implicit`), each scope's prerequisites (`[requires]`: the scopes on the way to its
fields), and one `[expose.<Type>]` table per type, mapping each exposed field to the scope
it needs. Anything not listed is denied. The `[cost]` table prices operations
(`cost_table.py`). Mistakes are start-up errors that name the file and line.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema, get_named_type

from schema.policy.cost_table import CostTable, CostTableError, check_cost_table, parse_cost_table
from schema.policy.reach import reached_types


class PolicyError(Exception):
    """The policy file is wrong; the message names the file and line."""


@dataclass(frozen=True)
class Policy:
    scopes: dict[str, str]  # scope -> what it grants, in file order
    fields: dict[tuple[str, str], str]  # (type, field) -> the scope it needs
    source: str  # the file the policy came from, for messages
    lines: dict[tuple[str, str], int]  # (table, key) -> line, for messages
    requires: dict[str, tuple[str, ...]]  # scope -> the scopes it needs, as declared
    implicit: tuple[str, ...]  # the scopes every key has
    cost: CostTable = CostTable()  # what operations cost (frozen, so one default is safe)

    def scope_for(self, type_name: str, field_name: str) -> str | None:
        """The scope a field needs, or None when the field is not exposed."""
        return self.fields.get((type_name, field_name))

    def prerequisites(self, scope: str) -> list[str]:
        """Every scope `scope` needs besides the implicit ones, directly or through
        another, in file order."""
        needed: set[str] = set()
        pending = list(self.requires.get(scope, ()))
        while pending:
            current = pending.pop()
            if current not in needed:
                needed.add(current)
                pending.extend(self.requires.get(current, ()))
        return [s for s in self.scopes if s in needed and s != scope and s not in self.implicit]

    def scope_sets(self) -> list[frozenset[str]]:
        """Every set of scopes a key can be minted with: the implicit ones, plus any
        choice of the others that holds each one's prerequisites."""
        optional = [s for s in self.scopes if s not in self.implicit]
        sets = []
        for size in range(len(optional) + 1):
            for extra in combinations(optional, size):
                chosen = frozenset((*self.implicit, *extra))
                if all(set(self.prerequisites(s)) <= chosen for s in extra):
                    sets.append(chosen)
        return sets

    def exposed_types(self) -> list[str]:
        return list(dict.fromkeys(type_name for type_name, _ in self.fields))

    def where(self, table: str, key: str) -> str:
        line = self.lines.get((table, key))
        return f"{self.source}:{line}" if line else self.source


_TABLE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r'^\s*("?)([^"=]+?)\1\s*=')


def _line_numbers(text: str) -> dict[tuple[str, str], int]:
    """TOML parsers drop positions; find each `key =` line under its table for messages."""
    lines: dict[tuple[str, str], int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _TABLE.match(line):
            table = match.group(1).replace('"', "").replace(" ", "")
            lines.setdefault((table, ""), number)
        elif match := _KEY.match(line):
            lines.setdefault((table, match.group(2).strip()), number)
    return lines


def _scope_names(value: Any) -> tuple[str, ...] | None:
    """A list of scope names as the file writes it, or None when it is something else."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _implicit(data: Mapping[str, Any], scopes: Mapping[str, str], where: str) -> tuple[str, ...]:
    implicit = _scope_names(data.get("implicit", []))
    if implicit is None:
        raise PolicyError(f"{where}: `implicit` must list scopes")
    for scope in implicit:
        if scope not in scopes:
            raise PolicyError(f"{where}: `implicit` names undeclared scope `{scope}`")
    return implicit


def _requires(
    data: Mapping[str, Any],
    scopes: Mapping[str, str],
    implicit: tuple[str, ...],
    source: str,
    lines: Mapping[tuple[str, str], int],
) -> dict[str, tuple[str, ...]]:
    table = data.get("requires", {})
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: `requires` must be a table")
    requires: dict[str, tuple[str, ...]] = {}
    for scope, value in table.items():
        where = f"{source}:{lines.get(('requires', scope), '?')}"
        needed = _scope_names(value)
        if needed is None:
            raise PolicyError(f"{where}: `{scope}` must list the scopes it needs")
        if scope not in scopes:
            raise PolicyError(f"{where}: `[requires]` names undeclared scope `{scope}`")
        if scope in implicit:
            raise PolicyError(
                f"{where}: `{scope}` is implicit: every key has it, so it needs nothing"
            )
        for prerequisite in needed:
            if prerequisite not in scopes:
                raise PolicyError(f"{where}: `{scope}` needs undeclared scope `{prerequisite}`")
        requires[scope] = needed
    _refuse_cycles(requires, source, lines)
    return requires


def _refuse_cycles(
    requires: Mapping[str, tuple[str, ...]], source: str, lines: Mapping[tuple[str, str], int]
) -> None:
    """A scope that needs itself, however indirectly, could never be granted."""
    done: set[str] = set()

    def visit(scope: str, trail: list[str]) -> None:
        if scope in trail:
            circle = trail[trail.index(scope) :] + [scope]
            where = f"{source}:{lines.get(('requires', circle[0]), '?')}"
            shown = " → ".join(f"`{s}`" for s in circle)
            raise PolicyError(f"{where}: prerequisites go round in a circle: {shown}")
        if scope in done:
            return
        for needed in requires.get(scope, ()):
            visit(needed, [*trail, scope])
        done.add(scope)

    for scope in requires:
        visit(scope, [])


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source}: not valid TOML: {error}") from None
    lines = _line_numbers(text)
    unknown = set(data) - {"implicit", "scopes", "requires", "expose", "cost"}
    if unknown:
        name = sorted(unknown)[0]
        line = (
            lines.get((name, ""))
            or lines.get(("", name))
            or next((n for (t, k), n in lines.items() if t.startswith(f"{name}.") and not k), None)
        )
        raise PolicyError(f"{source}:{line}: unknown table or key `{name}`")
    scopes = data.get("scopes", {})
    if not scopes or not all(isinstance(v, str) for v in scopes.values()):
        raise PolicyError(f"{source}: `[scopes]` must map each scope to a description")
    fields: dict[tuple[str, str], str] = {}
    for type_name, table in data.get("expose", {}).items():
        if not isinstance(table, dict):
            raise PolicyError(f"{source}: `expose.{type_name}` must be a table")
        for field_name, scope in table.items():
            where = f"{source}:{lines.get((f'expose.{type_name}', field_name), '?')}"
            if not isinstance(scope, str):
                raise PolicyError(f"{where}: `{type_name}.{field_name}` must name a scope")
            fields[(type_name, field_name)] = scope
    implicit = _implicit(data, scopes, f"{source}:{lines.get(('', 'implicit'), '?')}")
    return Policy(
        scopes=dict(scopes),
        fields=fields,
        source=source,
        lines=lines,
        requires=_requires(data, scopes, implicit, source, lines),
        implicit=implicit,
        cost=_cost_table(data, source, lines),
    )


def _cost_table(
    data: Mapping[str, Any], source: str, lines: dict[tuple[str, str], int]
) -> CostTable:
    try:
        return parse_cost_table(data.get("cost"), source, lines)
    except CostTableError as error:
        raise PolicyError(str(error)) from None


def load_policy(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file ({error.strerror})") from None
    return parse_policy(text, source=str(path))


def validate_policy(policy: Policy, schema: GraphQLSchema) -> None:
    """Refuse a policy that names what the schema lacks, an undeclared scope, or a mutation."""
    closed_roots = {t.name for t in (schema.mutation_type, schema.subscription_type) if t}
    for (type_name, field_name), scope in policy.fields.items():
        where = policy.where(f"expose.{type_name}", field_name)
        if type_name in closed_roots:
            raise PolicyError(
                f"{where}: `{type_name}.{field_name}`: mutations and subscriptions "
                "cannot be exposed to API keys"
            )
        graphql_type = schema.type_map.get(type_name)
        if not isinstance(graphql_type, GraphQLObjectType):
            raise PolicyError(f"{where}: the schema has no object type `{type_name}`")
        field = graphql_type.fields.get(field_name)
        if field is None:
            raise PolicyError(f"{where}: the schema has no field `{type_name}.{field_name}`")
        if scope not in policy.scopes:
            raise PolicyError(
                f"{where}: `{type_name}.{field_name}` needs undeclared scope `{scope}`"
            )
        target = get_named_type(field.type)
        if isinstance(target, GraphQLObjectType) and target.name not in policy.exposed_types():
            raise PolicyError(
                f"{where}: `{type_name}.{field_name}` returns `{target.name}`, "
                "which exposes no field"
            )
    if schema.query_type is None or schema.query_type.name not in policy.exposed_types():
        raise PolicyError(f"{policy.source}: the policy exposes no field of `Query`")
    _check_reach(policy, schema)
    try:
        check_cost_table(policy.cost, schema, policy.fields, policy.where)
    except CostTableError as error:
        raise PolicyError(str(error)) from None


def _check_reach(policy: Policy, schema: GraphQLSchema) -> None:
    """Every exposed field is reachable from `Query`, and a key holding a scope with its
    prerequisites reaches every field of that scope: so `[requires]` is provably complete.

    The implicit scopes are on every key, so their fields are read wherever their type is
    reached (`PageInfo` under any list) and need no prerequisites of their own."""
    everywhere = reached_types(schema, policy.fields, policy.scopes)
    for type_name, field_name in policy.fields:
        if type_name not in everywhere:
            raise PolicyError(
                f"{policy.where(f'expose.{type_name}', field_name)}: `{type_name}.{field_name}` "
                f"is exposed, but no exposed field leads to `{type_name}`"
            )
    for scope in policy.scopes:
        if scope in policy.implicit:
            continue
        held = {scope, *policy.implicit, *policy.prerequisites(scope)}
        reached = reached_types(schema, policy.fields, held)
        for (type_name, field_name), needed in policy.fields.items():
            if needed != scope or type_name in reached:
                continue
            path = everywhere[type_name]
            on_path = dict.fromkeys(policy.fields[step] for step in path)
            missing = [s for s in on_path if s not in held]
            declared = [*policy.requires.get(scope, ()), *missing]
            raise PolicyError(
                f"{policy.where(f'expose.{type_name}', field_name)}: a key with `{scope}` "
                f"cannot reach `{type_name}.{field_name}`: `{type_name}` is reached through "
                f"{' → '.join(f'`{t}.{f}`' for t, f in path)}, which needs "
                f"{' and '.join(f'`{s}`' for s in missing)}; declare "
                f"{'it' if len(missing) == 1 else 'them'} under `[requires]`: "
                f"{_toml_entry(scope, declared)}"
            )


def _toml_entry(scope: str, needed: list[str]) -> str:
    """The `[requires]` line to write, as the file spells it."""
    return f"{json.dumps(scope)} = {json.dumps(needed)}"
