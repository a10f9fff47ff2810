"""Partial data: a failing provider empties the fields it serves, the rest still answers."""

from __future__ import annotations

from typing import Any, TypeVar

from aiodataloader import DataLoader
from graphql import GraphQLError
from strawberry.types import Info

from schema.errors import ClientError

T = TypeVar("T")


async def load_or_default(info: Info, loader: DataLoader, key: Any, default: T) -> Any:
    """Load `key`; on a client-safe failure record the error at this field and use `default`.

    Used for non-null fields (connections), which cannot answer null without nulling their
    parent: they answer empty, and the error says why.
    """
    try:
        return await loader.load(key)
    except ClientError as error:
        info.context.partial_errors.append(
            GraphQLError(
                error.message,
                path=info.path.as_list(),
                extensions=error.extensions,
            )
        )
        return default
