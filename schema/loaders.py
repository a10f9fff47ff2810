"""One DataLoader per relation, built fresh for every request.

Each loader hands its whole batch to the business's source in one call, so a page of N
participants costs one upstream fetch per relation (per provider page), never N.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiodataloader import DataLoader

from schema.source import BusinessSource
from schema.tracing import tracer


class SharedLoader(DataLoader):
    """A DataLoader whose futures outlive any one waiter. Many fields wait on one future
    (every participant of a page on one batch); when graphql-core cancels a field (its
    sibling failed and nulled their parent), the cancellation must stop that wait only,
    not the batch every other field is waiting for."""

    def load(self, key: Any) -> asyncio.Future[Any]:
        future = self.shared(key)
        return future if future.done() else asyncio.shield(future)

    def shared(self, key: Any) -> asyncio.Future[Any]:
        """The batch's own future for `key`: to be waited on without cancelling it (as
        `asyncio.wait` does), never awaited directly."""
        future = super().load(key)
        if not future.done():
            # A failure nobody is left waiting for is still a failure seen, not an
            # "exception never retrieved".
            future.add_done_callback(_seen)
        return future


def _seen(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _loader(
    relation: str,
    batch: Callable[[Sequence[Any]], Awaitable[list[Any]]],
    running: set[asyncio.Task[Any]],
) -> DataLoader:
    span_name = f"batch {relation}"

    async def load(keys: list[Any]) -> list[Any]:
        # DataLoader runs each batch in a task of its own, outside the operation's task:
        # remember it, so a timed-out operation can cancel its upstream calls too.
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
        try:
            with tracer.start_as_current_span(span_name) as span:
                if span.is_recording():
                    span.set_attribute("business_api.batch.keys", len(keys))
                return await batch(keys)
        except Exception as error:  # noqa: BLE001 - every key of the batch gets the failure
            return [error] * len(keys)
        finally:
            if task is not None:
                running.discard(task)

    return SharedLoader(load)


class Loaders:
    """The loaders of one business within one request."""

    def __init__(self, source: BusinessSource, running: set[asyncio.Task[Any]]) -> None:
        self.source = source
        self.consent_by_participant = _loader("consents", source.consents, running)
        self.registrations_by_participant = _loader("registrations", source.registrations, running)
        self.purchases_by_participant = _loader("purchases", source.purchases, running)
        self.participant_by_key = _loader(
            "participants_by_key", source.participants_by_key, running
        )
        self.activity_session_by_key = _loader(
            "activity_sessions", source.activity_sessions, running
        )
