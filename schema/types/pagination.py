"""Cursor connections: `first`/`after`, `nodes`, `edges`, `pageInfo`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, Protocol, TypeVar

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


Encode = Callable[[Any], str]


@strawberry.type(description="Where a page sits in its list, and how to ask for the next one.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether more items may follow this page. Ask for them with `after: endCursor`."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether items precede this page (true when `after` was given)."
    )
    end: strawberry.Private[Any]  # the position after the page; None: no cursor to give
    start: strawberry.Private[Any]
    encode: strawberry.Private[Encode]

    @strawberry.field(
        description="The cursor to continue from: after the last item of this page. Null "
        "only when the page is empty and nothing follows."
    )
    def end_cursor(self) -> str | None:
        return None if self.end is None else self.encode(self.end)

    @strawberry.field(
        description="The cursor of the first item of this page; null when the page is empty."
    )
    def start_cursor(self) -> str | None:
        return None if self.start is None else self.encode(self.start)


@strawberry.type(description="An item of a list, with the cursor that points just after it.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The item.")
    position: strawberry.Private[Any]
    encode: strawberry.Private[Encode]

    @strawberry.field(description="Pass as `after` to continue after this item.")
    def cursor(self) -> str:
        return self.encode(self.position)


@strawberry.type(description="One page of a list.")
class Connection(Generic[T]):
    nodes: list[T] = strawberry.field(description="The items of this page, in a stable order.")
    page_info: PageInfo = strawberry.field(description="How to fetch the next page.")
    positions: strawberry.Private[Sequence[Any]]  # just after each node
    encode: strawberry.Private[Encode]

    @strawberry.field(description="The items of this page, with cursors.")
    def edges(self) -> list[Edge[T]]:
        return [
            Edge(node=node, position=position, encode=self.encode)
            for node, position in zip(self.nodes, self.positions, strict=True)
        ]


class Dated(Protocol):
    @property
    def created_at(self) -> Instant | None: ...
    @property
    def provider_id(self) -> str: ...


def stable_order(record: Dated) -> tuple[str, str]:
    """Oldest first (undated first of all), then by provider id: the order nested lists are
    paged in. Instants in one format order as their text."""
    return (record.created_at or "", record.provider_id)


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
    nodes: Sequence[Any],
    positions: Sequence[Any],
    *,
    encode: Encode,
    has_next_page: bool,
    has_previous_page: bool,
    end: Any = None,
) -> Connection[Any]:
    """A page whose cursors are encoded only if asked for. `end` is where the next page
    starts when the page is empty but the list goes on (a failing provider)."""
    return Connection(
        nodes=list(nodes),
        positions=positions,
        encode=encode,
        page_info=PageInfo(
            has_next_page=has_next_page,
            has_previous_page=has_previous_page,
            end=positions[-1] if positions else end,
            start=positions[0] if positions else None,
            encode=encode,
        ),
    )


def empty_connection() -> Connection[Any]:
    return build_connection([], [], encode=str, has_next_page=False, has_previous_page=False)


def offset_after(cursors: CursorCodec, after: str | None, *, business: str, list_name: str) -> int:
    """The offset an in-memory list's `after` cursor carries (0 without one)."""
    if after is None:
        return 0
    position = cursors.decode(after, business=business, list_name=list_name)
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise BadUserInput("The `after` cursor is not valid for this list.")
    return position


def paginate_list(
    items: Sequence[R],
    *,
    first: int,
    offset: int,
    make_node: Callable[[R], Any],
    encode: Encode,
) -> Connection[Any]:
    """Page through a list already held in memory; positions are the offset after an item."""
    window = items[offset : offset + first]
    return build_connection(
        [make_node(item) for item in window],
        range(offset + 1, offset + len(window) + 1),
        encode=encode,
        has_next_page=offset + first < len(items),
        has_previous_page=offset > 0,
    )
