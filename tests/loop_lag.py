"""The event loop's time in tests, measured or stood in for, instead of a request's total time.

`LoopLag` measures how late the event loop runs what is due: the claim "this work never holds
the event loop" is about the loop's own lag, which a loaded machine changes far less than it
changes how long a request takes. `HeldSleeps` stands in for `asyncio.sleep` in one module, so
that a test sees each delay asked for, and when the sleeper goes on, without waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable
from types import ModuleType, TracebackType
from typing import Any

import pytest


class LoopLag:
    """`async with LoopLag() as lag:` runs a ticker task that asks to wake every `interval`
    seconds and records how late it woke; `lag.worst` is the latest it woke (seconds), counting
    the tick still due when the block ends, and `lag.ticks` how often it woke."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.worst = 0.0
        self.ticks = 0
        self._due = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, loop.time() - self._due)
            self.ticks += 1

    async def __aenter__(self) -> LoopLag:
        # What is measured is the code under test, not a full collection of everything the
        # test session holds (hundreds of MB late in a full run): the heap so far is frozen
        # out of the collector for the block; what the block allocates is collected.
        gc.collect()
        gc.freeze()
        self._due = asyncio.get_running_loop().time() + self.interval
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)  # the ticker is waiting for its first tick
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # A stall that ends just before the block does is in the tick still due.
        self.worst = max(self.worst, asyncio.get_running_loop().time() - self._due)
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        gc.unfreeze()


class _WithSleep:
    """The `asyncio` module as one module sees it, with another `sleep`."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


def replace_sleep(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, sleep: Callable[[float], Awaitable[None]]
) -> None:
    """`module` (which calls `asyncio.sleep` as such) sleeps with `sleep` for the test;
    everything else in `asyncio`, and every other module, stays as it is."""
    monkeypatch.setattr(module, "asyncio", _WithSleep(sleep))


class HeldSleeps:
    """Stands in for `asyncio.sleep` where `module` calls it (`module.asyncio.sleep`), for
    code on the test's own event loop (an app behind httpx's ASGI transport): each delay
    asked for is recorded in `asked` and held until `release()`; nothing waits for the
    clock. Everything else, and every other module, keeps the real `asyncio`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> None:
        self.asked: list[float] = []
        self._asked = asyncio.Event()
        self._released = asyncio.Event()
        replace_sleep(monkeypatch, module, self._sleep)

    async def _sleep(self, delay: float) -> None:
        self.asked.append(delay)
        self._asked.set()
        await self._released.wait()

    async def asked_or_done(self, task: asyncio.Task[Any]) -> None:
        """Until a sleep is asked for or `task` ends, whichever comes first."""
        asked = asyncio.ensure_future(self._asked.wait())
        await asyncio.wait({task, asked}, return_when=asyncio.FIRST_COMPLETED)
        asked.cancel()

    def release(self) -> None:
        """Let every sleep asked for go on, and every later one at once."""
        self._released.set()
