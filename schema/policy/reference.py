"""The reference: every type and field a key can read, generated from the policy.

It is built from the slice a key with every scope sees, plus the policy's scope for each
field, so it cannot list a field enforcement refuses or miss one it allows. Rendered as
HTML (served at `/@{handle}/api/reference`), Markdown and the public SDL.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
from graphql import (
    GraphQLEnumType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
    is_specified_scalar_type,
    print_ast,
)
from graphql.utilities import ast_from_value
from markupsafe import Markup

from schema.errors import ErrorCode
from schema.policy.cost_reference import CostDoc, cost_doc, field_cost
from schema.policy.model import Policy

ERROR_MEANINGS: dict[str, str] = {
    "UNAUTHENTICATED": "No valid API key for this business: missing, malformed, unknown, "
    "revoked or expired, or a key of another business. HTTP 401 with `WWW-Authenticate: Bearer`.",
    "FORBIDDEN": "The operation selects a field that is not exposed to API keys "
    "(`reason: NOT_EXPOSED`) or whose scope the key lacks (`reason: MISSING_SCOPE`, with "
    "`requiredScope`), or it is a mutation. Nothing runs: the response has no `data`.",
    "BAD_REQUEST": "The HTTP request is not a well-formed GraphQL request: malformed JSON, an "
    "empty body, a batch (send one operation per request), a `query` that is not a string.",
    "BAD_USER_INPUT": "An argument or variable is out of range or malformed: `first` outside "
    "1–100, a cursor that was altered or belongs to another list or business.",
    "GRAPHQL_PARSE_FAILED": "The document is not valid GraphQL syntax.",
    "GRAPHQL_VALIDATION_FAILED": "The document does not validate against the fields your key "
    "can read.",
    "PAYLOAD_TOO_LARGE": "The request body is over the size limit. HTTP 413.",
    "UNSUPPORTED_MEDIA_TYPE": "The request is not `Content-Type: application/json`. HTTP 415.",
    "NOT_ACCEPTABLE": "The `Accept` header allows neither `application/graphql-response+json` "
    "nor `application/json`. HTTP 406.",
    "METHOD_NOT_ALLOWED": "Wrong HTTP method, such as a mutation sent with GET. HTTP 405.",
    "NOT_FOUND": "No such path. HTTP 404.",
    "RATE_LIMITED": "Over a rate limit, per key or per business. HTTP 429: wait "
    "`Retry-After` seconds (also in `extensions.retryAfter`), then retry.",
    "UPSTREAM_UNAVAILABLE": "A platform the business uses did not answer: the fields it serves "
    "are null or empty, the rest of the response is complete; `extensions.provider` and "
    "`extensions.connection` name it. `activeBusiness { id name }` always answers, and while a "
    "connection fails `participants` says `hasNextPage: true` with an `endCursor` that resumes "
    "every connection where it stood.",
    "MAX_DEPTH_EXCEEDED": "The operation nests fields deeper than the limit "
    "(`extensions.limit`). Nothing runs.",
    "MAX_ALIASES_EXCEEDED": "The document uses more aliases than the limit "
    "(`extensions.limit`). Nothing runs.",
    "MAX_TOKENS_EXCEEDED": "The document is longer than the limit in tokens "
    "(`extensions.limit`). Nothing runs.",
    "MAX_FIELDS_EXCEEDED": "The operation selects more fields than the limit once its "
    "fragments are expanded where they are spread (`extensions.limit`). Nothing runs.",
    "MAX_COST_EXCEEDED": "The operation is priced over the cost limit (see Query cost): "
    "`extensions.cost` is its price, `extensions.limit` the limit. Nothing runs; ask for "
    "smaller pages or fewer fields.",
    "TIMEOUT": "The operation ran past the time limit and was cancelled.",
    "SERVICE_UNAVAILABLE": "The server could not reach what it depends on (its store) for "
    "a moment; nothing is wrong with the request. HTTP 503: wait `Retry-After` seconds (also "
    "in `extensions.retryAfter`), then retry.",
    "INTERNAL_SERVER_ERROR": "A fault on our side. The message never carries details.",
}


@dataclass(frozen=True)
class ArgumentDoc:
    name: str
    type: str
    default: str | None
    description: str


@dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    target: str  # the named type, for links
    description: str
    scope: str
    arguments: tuple[ArgumentDoc, ...]
    cost: str = ""  # what selecting it costs (see cost_reference.py)


@dataclass(frozen=True)
class TypeDoc:
    name: str
    kind: str  # "object", "enum" or "scalar"
    description: str
    fields: tuple[FieldDoc, ...] = ()
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Reference:
    types: tuple[TypeDoc, ...]
    scopes: dict[str, str]
    errors: dict[str, str]
    sdl: str
    needs: dict[str, tuple[str, ...]]  # scope -> every scope a key needs with it
    implicit: tuple[str, ...]  # the scopes every key has
    cost: CostDoc | None = None  # the cost rules and their worked example

    def fields(self) -> dict[tuple[str, str], str]:
        """(type, field) → scope, for every field listed."""
        return {(t.name, f.name): f.scope for t in self.types for f in t.fields}


def _reachable(schema: GraphQLSchema) -> list[GraphQLNamedType]:
    """Types in reading order: breadth-first from `Query`, in field order."""
    assert schema.query_type is not None
    order: list[GraphQLNamedType] = [schema.query_type]
    index = 0
    while index < len(order):
        current = order[index]
        index += 1
        if not isinstance(current, GraphQLObjectType):
            continue
        for field in current.fields.values():
            for named in [get_named_type(field.type)] + [
                get_named_type(a.type) for a in field.args.values()
            ]:
                if named not in order and not is_specified_scalar_type(named):
                    order.append(named)
    return order


def _default(argument_type: object, value: object) -> str | None:
    if value is None:
        return None
    node = ast_from_value(value, argument_type)  # type: ignore[arg-type]
    return print_ast(node) if node else None


def build_reference(policy: Policy, public: GraphQLSchema, sdl: str) -> Reference:
    """`public` is the slice a key with every scope sees."""
    types: list[TypeDoc] = []
    for named in _reachable(public):
        description = named.description or ""
        if isinstance(named, GraphQLObjectType):
            fields = tuple(
                FieldDoc(
                    name=name,
                    type=str(field.type),
                    target=get_named_type(field.type).name,
                    description=field.description or "",
                    scope=policy.scope_for(named.name, name) or "",
                    arguments=tuple(
                        ArgumentDoc(
                            arg_name,
                            str(arg.type),
                            _default(arg.type, arg.default_value),
                            arg.description or "",
                        )
                        for arg_name, arg in field.args.items()
                    ),
                    cost=field_cost(policy.cost, named, name),
                )
                for name, field in named.fields.items()
            )
            types.append(TypeDoc(named.name, "object", description, fields=fields))
        elif isinstance(named, GraphQLEnumType):
            values = tuple((n, v.description or "") for n, v in named.values.items())
            types.append(TypeDoc(named.name, "enum", description, values=values))
        elif isinstance(named, GraphQLScalarType):
            types.append(TypeDoc(named.name, "scalar", description))
    errors = {code.value: ERROR_MEANINGS[code.value] for code in ErrorCode}
    needs = {scope: tuple(policy.prerequisites(scope)) for scope in policy.scopes}
    return Reference(
        tuple(types),
        dict(policy.scopes),
        errors,
        sdl,
        needs,
        tuple(policy.implicit),
        cost_doc(policy.cost, public),
    )


_CODE_SPAN = re.compile(r"`([^`]+)`")


def _inline_code(text: str) -> str:
    """Descriptions use Markdown code spans; in HTML they become <code>, all else escaped."""
    return _CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(text))


def _environment(autoescape: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["inline_code"] = lambda text: Markup(_inline_code(text))
    return environment


def render_html(reference: Reference) -> str:
    return _environment(autoescape=True).get_template("reference.html.j2").render(ref=reference)


def render_markdown(reference: Reference) -> str:
    return _environment(autoescape=False).get_template("reference.md.j2").render(ref=reference)
