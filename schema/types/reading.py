"""Read functions: how a field that needs data it does not hold gets it.

A field that loads (a relation through the per-request loaders, a page of participants)
is declared once, with `@loads(fn)` over a method whose signature gives the field its
arguments and type: `fn(context, parents, arguments, paths)` reads the field for many
parents at once and answers a list aligned with them (a value, or the exception that
field raises). Strawberry's resolver calls it for its one parent; the compiled executor
finds the same function in the field's metadata and calls it once for a whole level of
parents, so the loaders batch them without a task per parent. Paging, cursors, GIDs and
partial errors therefore have one implementation, shared by both executors.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import strawberry
from aiodataloader import DataLoader
from graphql import GraphQLError

from schema.errors import ClientError
from schema.loaders import SharedLoader

T = TypeVar("T")

READ = "read"
Path = Sequence[str | int]
Read = Callable[[Any, Sequence[Any], Mapping[str, Any], Sequence[Path]], Awaitable[list[Any]]]


def loads(fn: Read, **field: Any) -> Callable[[Callable[..., Any]], Any]:
    """A field that loads, declared once: the decorated method's signature (its arguments
    after `info`, its return type) is the field's, its body is never run; `fn` reads the
    value for both executors. `field` is what `strawberry.field` takes (a description)."""

    def declare(signature: Callable[..., Any]) -> Any:
        async def resolve(self: Any, info: Any, **arguments: Any) -> Any:
            [value] = await fn(info.context, [self], arguments, [info.path.as_list()])
            if isinstance(value, BaseException):
                raise value
            return value

        # The method's name, annotations, module and signature (through `__wrapped__`),
        # which is what Strawberry reads the field's arguments and type from.
        functools.update_wrapper(resolve, signature)
        resolve.reads = fn  # type: ignore[attr-defined]  # what the metadata names, too
        return strawberry.field(resolver=resolve, metadata={READ: fn}, **field)

    return declare


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
