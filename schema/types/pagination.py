"""Cursor connections: `first`/`after`, `nodes`, `edges`, `pageInfo`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from strawberry import UNSET

from schema.cursors import CursorCodec
from schema.errors import BadUserInput
from schema.scalars import Instant

T = TypeVar("T")
R = TypeVar("R")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25
First = Annotated[
    int | None,
    strawberry.argument(description=f"How many items to return, from 1 to {MAX_PAGE_SIZE}."),
]
After = Annotated[
    str | None,
    strawberry.argument(
        description="Return the items after this cursor: the `endCursor` of the previous page."
    ),
]


@strawberry.type(description="Where a page sits in its list, and how to ask for the next one.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether more items follow this page. Ask for them with `after: endCursor`."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor after the last item of this page; null when the page is empty."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether items precede this page (true when `after` was given)."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the first item of this page; null when the page is empty."
    )


@strawberry.type(description="An item of a list, with the cursor that points just after it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` to continue after this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="One page of a list.")
class Connection(Generic[T]):
    nodes: list[T] = strawberry.field(description="The items of this page, in a stable order.")
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, with cursors.")
    page_info: PageInfo = strawberry.field(description="How to fetch the next page.")


def stable_order(created_at: Instant | None, provider_id: str) -> tuple[str, str]:
    """Oldest first (undated first of all), then by provider id: the order nested lists are
    paged in. Instants in one format order as their text."""
    return (created_at or "", provider_id)


def check_first(first: int | None) -> int:
    if first is None or not 1 <= first <= MAX_PAGE_SIZE:
        given = "null" if first is None else first
        raise BadUserInput(
            f"`first` must be between 1 and {MAX_PAGE_SIZE}; it was {given}.",
            argumentName="first",
        )
    return first


def given_cursor(after: str | None) -> str | None:
    """`after` has no default in the schema, so an omitted one arrives as UNSET."""
    return None if after is UNSET else after


def build_connection(
    nodes_with_cursors: Sequence[tuple[Any, str]], *, has_next_page: bool, has_previous_page: bool
) -> Connection[Any]:
    edges = [Edge(cursor=cursor, node=node) for node, cursor in nodes_with_cursors]
    return Connection(
        nodes=[edge.node for edge in edges],
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next_page,
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
        ),
    )


def empty_connection() -> Connection[Any]:
    return build_connection([], has_next_page=False, has_previous_page=False)


def offset_after(cursors: CursorCodec, after: str | None, *, business: str, connection: str) -> int:
    """The offset an in-memory list's `after` cursor carries (0 without one)."""
    if after is None:
        return 0
    position = cursors.decode(after, business=business, connection=connection)
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise BadUserInput("The `after` cursor is not valid for this connection.")
    return position


def paginate_list(
    items: Sequence[R],
    *,
    first: int,
    offset: int,
    make_node: Callable[[R], Any],
    make_cursor: Callable[[int], str],
) -> Connection[Any]:
    """Page through a list already held in memory; cursors carry the offset after an item."""
    window = items[offset : offset + first]
    return build_connection(
        [(make_node(item), make_cursor(offset + i + 1)) for i, item in enumerate(window)],
        has_next_page=offset + first < len(items),
        has_previous_page=offset > 0,
    )
