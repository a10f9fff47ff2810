"""The circuit breaker of a provider connection, on purgatory's.

After `threshold` calls in a row fail (after their retries), the connection fails fast
for `cooldown` seconds instead of making every request wait on a dead provider; then one
call is let through, and its success closes the circuit again. A 404 for one object and a
cancelled call are not failures of the provider. Its state is the metric
`business_api_circuit_breaker_open`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain import model as purgatory_model
from purgatory.domain.model import OpenedState
from purgatory.service._async.repository import AsyncInMemoryRepository

from server.observability.metrics import circuit_changed, circuit_forgotten
from server.providers.errors import ProviderError, ProviderNotFound, ProviderUnavailable

log = logging.getLogger(__name__)


class CircuitOpen(ProviderUnavailable):
    """Failing fast while the circuit is open: not worth a retry. `retry_after`: seconds
    until the cool-down ends and one call is let through again."""

    transient = False

    def __init__(self, provider: str, retry_after: float) -> None:
        super().__init__(provider, "circuit open after repeated failures")
        self.retry_after = retry_after


def breaker_factory(threshold: int, cooldown_seconds: float) -> AsyncCircuitBreakerFactory:
    return AsyncCircuitBreakerFactory(
        default_threshold=threshold,
        default_ttl=cooldown_seconds,
        exclude=[ProviderNotFound, asyncio.CancelledError],
    )


def _kept(factory: AsyncCircuitBreakerFactory) -> dict[str, object]:
    """The breakers the factory holds, by name (purgatory keeps them in memory, in a
    repository it never prunes)."""
    repository = factory.uow.contexts
    assert isinstance(repository, AsyncInMemoryRepository), "breakers live in this process"
    return repository.breakers  # type: ignore[return-value]


def forget_breaker(factory: AsyncCircuitBreakerFactory, connection: str, provider: str) -> None:
    """The connection is gone (or no longer kept): its breaker and its gauge go too; a
    later call starts it afresh, closed."""
    _kept(factory).pop(connection, None)
    circuit_forgotten(connection, provider)


def breakers_kept(factory: AsyncCircuitBreakerFactory) -> int:
    return len(_kept(factory))


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
        except OpenedState as opened:
            # On purgatory's own clock, the one that opened the circuit.
            left = opened.opened_at + breaker.context.ttl - purgatory_model.time.time()
            raise CircuitOpen(self._provider, min(max(left, 0.0), breaker.context.ttl)) from None
        try:
            yield
        except BaseException as error:
            was = breaker.context.state
            await breaker.__aexit__(type(error), error, error.__traceback__)
            if breaker.context.state == "opened" and was != "opened":
                self._opened(breaker.context.ttl, error)
            raise
        was = breaker.context.state
        await breaker.__aexit__(None, None, None)
        if was != "closed" and breaker.context.state == "closed":
            # Half-open counts as open (it lets one trial call through): closed only now.
            circuit_changed(self._name, self._provider, opened=False)

    def _opened(self, cooldown: float, error: BaseException) -> None:
        circuit_changed(self._name, self._provider, opened=True)
        status = error.status if isinstance(error, ProviderError) else None
        cause = error.detail if isinstance(error, ProviderError) else type(error).__name__
        log.warning(
            "circuit opened, failing fast for %g s: connection=%s provider=%s status=%s cause=%s",
            cooldown,
            self._name,
            self._provider,
            status,
            cause,
        )

    async def state(self) -> str:
        """`closed`, `opened` or `half-opened`."""
        return (await self._factory.get_breaker(self._name)).context.state
