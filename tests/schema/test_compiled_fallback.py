"""The compiler runs only what it models: a field with a Strawberry extension or a
permission class (which act around its resolver) leaves the document to Strawberry, so
nothing added to the schema applies on one executor and not the other."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import parse
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission

from schema.engine import compiled
from schema.engine.analysis import analyse


class Shouting(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


class Nobody(BasePermission):
    message = "no"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Query:
    plain: str = "plain"

    @strawberry.field(extensions=[Shouting()])
    def shouted(self) -> str:
        return "quiet"

    @strawberry.field(permission_classes=[Nobody])
    def guarded(self) -> str:
        return "secret"


SCHEMA = strawberry.Schema(query=Query)


def _plan(query: str) -> compiled.Plan | None:
    document = parse(query)
    built = compiled.build(SCHEMA, document, None, None)
    assert not isinstance(built, list)
    return compiled.compile_plan(SCHEMA, analyse(document, SCHEMA._schema), built)


def test_a_plain_field_is_compiled() -> None:
    assert _plan("{ plain }") is not None


def test_a_field_with_an_extension_is_left_to_strawberry() -> None:
    assert _plan("{ plain shouted }") is None


def test_a_field_with_a_permission_class_is_left_to_strawberry() -> None:
    assert _plan("{ guarded }") is None
