"""Each field that loads is declared once: `@loads(fn)` gives Strawberry's resolver and
the compiled executor's read function from the same `fn`, so the two executors cannot
read a field differently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schema.api import build_internal_schema
from schema.policy.model import load_policy
from schema.types.reading import READ

POLICY_PATH = Path(__file__).resolve().parents[2] / "policies" / "business-api.toml"

# Every field of the graph that loads what its parent does not hold.
LOADING_FIELDS = {
    "Query.activeBusiness",
    "Business.participants",
    "BusinessParticipant.emailMarketingConsent",
    "BusinessParticipant.registrations",
    "BusinessParticipant.productPurchases",
    "ActivitySession.title",
    "ActivitySession.startsAt",
    "ActivitySession.endsAt",
    "ActivitySession.capacity",
    "ActivitySession.status",
}


def _fields() -> dict[str, Any]:
    schema = build_internal_schema()
    converter = schema.config.name_converter
    found = {}
    for graphql_type in schema._schema.type_map.values():
        definition = schema.get_type_by_name(graphql_type.name)
        for strawberry_field in getattr(definition, "fields", None) or ():
            name = f"{graphql_type.name}.{converter.get_graphql_name(strawberry_field)}"
            found[name] = strawberry_field
    return found


def test_each_loading_field_is_declared_once_with_its_read_function() -> None:
    fields = _fields()
    loading = {name for name, f in fields.items() if READ in (f.metadata or {})}
    assert loading == LOADING_FIELDS
    for name in sorted(loading):
        field = fields[name]
        resolver = field.base_resolver
        assert resolver is not None, name
        # Strawberry's resolver is the one `@loads` made from the same read function.
        assert getattr(resolver.wrapped_func, "reads", None) is field.metadata[READ], name


def test_every_field_a_key_may_read_loads_once_or_holds_its_value() -> None:
    """A field with a resolver of its own that awaits would load one parent at a time on
    Strawberry and never run compiled: among the fields an API key may read, there is
    none. (The operator's fields, which always run on Strawberry, may.)"""
    policy = load_policy(POLICY_PATH)
    for name, field in _fields().items():
        parent, _, field_name = name.partition(".")
        if policy.scope_for(parent, field_name) is None or name in LOADING_FIELDS:
            continue
        resolver = field.base_resolver
        assert resolver is None or not resolver.is_async, name
