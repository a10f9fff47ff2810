"""The per-request context every resolver receives."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

from schema.cursors import CursorCodec
from schema.loaders import Loaders
from schema.source import BusinessRecord, Directory


@dataclass
class GraphContext:
    """Built by one plain function per request, so every request has fresh loader caches.

    `business` is the API key's business (None on the operator's endpoint); it comes from
    the key, never from the request.
    """

    business: BusinessRecord | None
    directory: Directory
    cursors: CursorCodec
    partial_errors: list[GraphQLError] = field(default_factory=list)
    _loaders: dict[str, Loaders] = field(default_factory=dict)
    _running: set[asyncio.Task[Any]] = field(default_factory=set)

    def loaders(self, business: BusinessRecord) -> Loaders:
        if business.public_id not in self._loaders:
            source = self.directory.source(business)
            self._loaders[business.public_id] = Loaders(source, self._running)
        return self._loaders[business.public_id]

    def extensions(self) -> dict[str, Any]:
        """What the response's `extensions` say about how the data was read."""
        freshness = [f for loaders in self._loaders.values() for f in loaders.source.freshness()]
        return {"freshness": freshness} if freshness else {}

    def cancel_pending(self) -> None:
        """Cancel the batch loads (and so the upstream calls) still running."""
        for task in list(self._running):
            task.cancel()
