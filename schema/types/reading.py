"""Read functions: how a field that needs data it does not hold gets it.

A field that loads (a relation through the per-request loaders, a page of participants)
is declared with `reads(fn)`: `fn(context, parents, arguments, paths)` reads the field for
many parents at once and answers a list aligned with them (a value, or the exception
that field raises). The Strawberry resolver calls it for its one parent; the compiled
executor finds the same function in the field's metadata and calls it once for a whole
level of parents, so the loaders batch them without a task per parent. Paging, cursors,
GIDs and partial errors therefore have one implementation, shared by both executors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader
from graphql import GraphQLError

from schema.errors import ClientError
from schema.loaders import SharedLoader

T = TypeVar("T")

READ = "read"
Path = Sequence[str | int]
Read = Callable[[Any, Sequence[Any], Mapping[str, Any], Sequence[Path]], Awaitable[list[Any]]]


def reads(fn: Read) -> dict[str, Any]:
    """Field metadata naming the read function behind the field."""
    return {READ: fn}


async def read_one(
    fn: Read, context: Any, parent: Any, arguments: Mapping[str, Any], path: Path
) -> Any:
    """What a Strawberry resolver does: the read for its one parent."""
    [value] = await fn(context, [parent], arguments, [path])
    if isinstance(value, BaseException):
        raise value
    return value


async def loaded(loader: SharedLoader, keys: Sequence[Any]) -> list[Any]:
    """Each key's value or its failure, in one batch: one wait for all of the batch's
    futures (no task, shield or gather per key), which a cancelled reader leaves running
    for the others that wait on them."""
    futures = [loader.shared(key) for key in keys]
    waiting = [future for future in futures if not future.done()]
    if waiting:
        await asyncio.wait(waiting)
    return [_outcome(future) for future in futures]


def _outcome(future: asyncio.Future[Any]) -> Any:
    if future.cancelled():  # the operation is being cancelled (its time limit)
        raise asyncio.CancelledError
    return future.exception() or future.result()


def partial_error(context: Any, path: Path, error: ClientError) -> None:
    """Record a client-safe error at `path`; the field answers its default instead."""
    context.partial_errors.append(
        GraphQLError(error.message, path=list(path), extensions=error.extensions)
    )


async def load_or_default(
    context: Any, loader: DataLoader, key: Any, default: T, path: Path
) -> Any:
    """Load `key`; on a client-safe failure record the error at `path` and use `default`.

    For non-null fields (connections), which cannot answer null without nulling their
    parent: they answer empty, and the error says why.
    """
    try:
        return await loader.load(key)
    except ClientError as error:
        partial_error(context, path, error)
        return default
