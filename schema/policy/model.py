"""Loading and validating the policy file (`policies/business-api.toml`).

The file has a `[scopes]` table (scope name → what it grants) and one `[expose.<Type>]`
table per type, mapping each exposed field to the scope it needs. Anything not listed is
denied. Mistakes are start-up errors that name the file and line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from graphql import GraphQLObjectType, GraphQLSchema, get_named_type


class PolicyError(Exception):
    """The policy file is wrong; the message names the file and line."""


@dataclass(frozen=True)
class Policy:
    scopes: dict[str, str]  # scope -> what it grants, in file order
    fields: dict[tuple[str, str], str]  # (type, field) -> the scope it needs
    source: str  # the file the policy came from, for messages
    lines: dict[tuple[str, str], int]  # (table, key) -> line, for messages

    def scope_for(self, type_name: str, field_name: str) -> str | None:
        """The scope a field needs, or None when the field is not exposed."""
        return self.fields.get((type_name, field_name))

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


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source}: not valid TOML: {error}") from None
    lines = _line_numbers(text)
    unknown = set(data) - {"scopes", "expose"}
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
    return Policy(scopes=dict(scopes), fields=fields, source=source, lines=lines)


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
