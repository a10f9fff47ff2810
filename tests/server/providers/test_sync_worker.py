"""The sync worker's own failures (the store's, not a provider's) are said as themselves."""

from __future__ import annotations

from typing import Any

import pytest

from server.providers.boxpressd.emulated.dataset import generate_dataset
from server.providers.boxpressd.emulated.emulator import create_emulator
from tests.server.providers.indexing import Place, indexed


async def test_a_store_failure_during_a_sync_run_is_raised_as_itself(
    place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = create_emulator(generate_dataset(seed=5, sessions=10, users=5), api_key="k")
    async with indexed(
        place, "boxpressd", emulator, account_id="venue/stogies-chapin", credential="k"
    ) as crawl:

        async def down(*args: Any) -> bool:
            raise ConnectionRefusedError("the store is down")

        monkeypatch.setattr(crawl.services.index, "take_lease", down)
        with pytest.raises(ConnectionRefusedError, match="the store is down"):
            await crawl.services.sync.sync_all()
        assert emulator.total_requests == 0
