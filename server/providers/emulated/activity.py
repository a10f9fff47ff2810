"""A gentle, plausible stream of changes to emulated providers, so change tracking has
something to track: in tests, and for someone watching the demo.

Each step picks an emulator and a plausible `Intent` (someone new signs up for a session,
a registration is confirmed or cancelled, consent given or withdrawn, something bought or
paid, a name or email corrected, rarely something removed), asks the emulator to propose
that change on its current data (`propose`: what a provider has and how it words it stays
in the provider's folder) and applies it through the emulator's own mutation API
(`mutate`). Intents the provider has no such thing for, or nothing to apply to, give way
to the next. Randomness comes from the `random.Random` given, so a seed replays a stream;
the pause between steps from `sleep`, so tests need no clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from server.providers.emulated.emulation import EmulatorError
from server.providers.emulated.mutations import Intent, Json

log = logging.getLogger(__name__)

# How often each kind of change happens, relative to the others: mostly people signing
# up and registrations moving, seldom a correction, rarely a removal.
WEIGHTS: Mapping[Intent, float] = {
    Intent.JOIN: 4,
    Intent.REGISTER: 4,
    Intent.CONFIRM: 3,
    Intent.CANCEL: 2,
    Intent.CONSENT: 2,
    Intent.PURCHASE: 2,
    Intent.PAYMENT: 1.5,
    Intent.RENAME: 1,
    Intent.REEMAIL: 1,
    Intent.UNREGISTER: 0.5,
    Intent.LEAVE: 0.25,
}
JITTER = (0.5, 1.5)  # a pause is `every_seconds` times a draw from this range


@runtime_checkable
class Changing(Protocol):
    """An emulator the simulator can drive (see `server.providers.emulated.mutations`)."""

    def mutate(self, change: Mapping[str, Any]) -> Json: ...

    def propose(self, intent: Intent, rng: random.Random) -> Json | None: ...


class NothingToChange(LookupError):
    """No emulator proposed any change (every data set empty, or none can change)."""


@dataclass(frozen=True)
class Step:
    """One applied change: which emulator, why, the request and what it answered."""

    provider: str
    intent: Intent
    change: Json
    answer: Json

    def __str__(self) -> str:
        return f"{self.provider}: {self.answer.get('done', self.intent.value)}"


class Activity:
    """Changes to `emulators` (name → emulator; those that cannot change are left out)."""

    def __init__(
        self,
        emulators: Mapping[str, object],
        rng: random.Random,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        weights: Mapping[Intent, float] = WEIGHTS,
    ) -> None:
        self.emulators = {
            name: emulator
            for name, emulator in sorted(emulators.items())
            if isinstance(emulator, Changing)
        }
        self._rng, self._sleep = rng, sleep
        self._weights = {intent: weight for intent, weight in weights.items() if weight > 0}
        self.last: Step | None = None
        self.steps = 0

    def step(self) -> str:
        """Apply one change; a line saying what happened. At most one proposal per intent
        per emulator is tried, so a step's work is bounded."""
        names = list(self.emulators)
        self._rng.shuffle(names)
        for name in names:
            emulator = self.emulators[name]
            for intent in self._intents():
                change = emulator.propose(intent, self._rng)
                if change is None:
                    continue
                try:
                    answer = emulator.mutate(change)
                except EmulatorError as error:  # a proposal the data no longer allows
                    log.debug("activity: %s refused %s (%s)", name, change, error.body)
                    continue
                self.last = Step(name, intent, change, answer)
                self.steps += 1
                return str(self.last)
        raise NothingToChange("no emulator has anything to change")

    async def run(
        self,
        every_seconds: float,
        *,
        steps: int | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        """A step, then a pause of about `every_seconds`, until `steps` were taken (for
        ever without): cancel the task to stop it. `report` hears each step's line."""
        if every_seconds < 0:
            raise ValueError("every_seconds must not be negative")
        taken = 0
        while steps is None or taken < steps:
            try:
                line = self.step()
            except NothingToChange:
                line = None
            if line is not None:
                taken += 1
                (report or log.info)(line)
            if steps is not None and taken >= steps:
                return
            await self._sleep(every_seconds * self._rng.uniform(*JITTER))

    def _intents(self) -> list[Intent]:
        """Every intent once, likelier ones likelier first (a weighted shuffle)."""
        keys = {
            intent: self._rng.random() ** (1 / weight) for intent, weight in self._weights.items()
        }
        return sorted(keys, key=lambda intent: keys[intent], reverse=True)
