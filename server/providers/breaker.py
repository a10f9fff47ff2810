"""The circuit breaker of a provider connection, on purgatory's.

After `threshold` calls in a row fail (after their retries), the connection fails fast
for `cooldown` seconds instead of making every request wait on a dead provider; then one
call is let through, and its success closes the circuit again. A 404 for one object and a
cancelled call are not failures of the provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from server.providers.errors import ProviderNotFound, ProviderUnavailable


class CircuitOpen(ProviderUnavailable):
    """Failing fast while the circuit is open: not worth a retry."""

    transient = False


def breaker_factory(threshold: int, cooldown_seconds: float) -> AsyncCircuitBreakerFactory:
    return AsyncCircuitBreakerFactory(
        default_threshold=threshold,
        default_ttl=cooldown_seconds,
        exclude=[ProviderNotFound, asyncio.CancelledError],
    )


class Breaker:
    def __init__(self, factory: AsyncCircuitBreakerFactory, connection: str, provider: str):
        self._factory = factory
        self._name = connection
        self._provider = provider

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        breaker = await self._factory.get_breaker(self._name)
        try:
            await breaker.__aenter__()
        except OpenedState:
            raise CircuitOpen(self._provider, "circuit open after repeated failures") from None
        try:
            yield
        except BaseException as error:
            await breaker.__aexit__(type(error), error, error.__traceback__)
            raise
        await breaker.__aexit__(None, None, None)

    async def state(self) -> str:
        """`closed`, `opened` or `half-opened`."""
        return (await self._factory.get_breaker(self._name)).context.state
