"""The slice of the graph a key can see: introspection and suggestions come from it.

Each slice is a Strawberry schema over the same types and resolvers, whose `get_fields`
keeps only the fields the policy exposes to the key's scopes. Types no kept field reaches
are left out by construction, so "Did you mean" suggestions can only name kept fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from schema.policy.model import Policy
from schema.scalars import CONFIG


class _SlicedSchema(strawberry.Schema):
    def __init__(self, *, policy: Policy, granted: frozenset[str], **kwargs: Any) -> None:
        self._policy = policy
        self._granted = granted
        super().__init__(**kwargs)

    def get_fields(self, type_definition: StrawberryObjectDefinition) -> list[StrawberryField]:
        converter = self.config.name_converter
        type_name = converter.from_type(type_definition)
        kept = []
        for field in type_definition.fields:
            scope = self._policy.scope_for(type_name, converter.get_graphql_name(field))
            if scope is not None and scope in self._granted:
                kept.append(field)
        return kept


class SchemaSlices:
    """One schema per set of scopes, built once and reused."""

    def __init__(self, policy: Policy, query: type, **schema_kwargs: Any) -> None:
        self.policy = policy
        self._query = query
        self._kwargs = {"config": CONFIG, **schema_kwargs}
        self._built: dict[frozenset[str], strawberry.Schema] = {}

    def for_scopes(self, scopes: Iterable[str]) -> strawberry.Schema:
        granted = frozenset(scopes) & frozenset(self.policy.scopes)
        if granted not in self._built:
            self._built[granted] = _SlicedSchema(
                policy=self.policy, granted=granted, query=self._query, **self._kwargs
            )
        return self._built[granted]

    def build_all(self) -> None:
        """Build every slice a key can be minted with at start-up, so a policy defect fails
        there (a key minted under an older policy gets its slice when it is first used)."""
        for scopes in self.policy.scope_sets():
            self.for_scopes(scopes)
