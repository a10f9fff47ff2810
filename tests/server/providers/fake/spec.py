"""A provider that exists only in the tests: the proof that adding one takes a folder."""

from __future__ import annotations

from typing import Any

from schema.source import ConnectionRecord
from server.providers.base import ProviderAdapter
from server.providers.http import ProviderHttp
from server.providers.spec import AccountId, Emulated, ProviderSpec
from tests.server.providers.fake.client import FakeAdapter, probe


def _adapter(http: ProviderHttp, connection: ConnectionRecord) -> ProviderAdapter:
    return FakeAdapter(http, connection.public_id)


def _dataset(seed: int, size: int) -> Any:
    from tests.server.providers.fake.dataset import generate_dataset

    return generate_dataset(seed, size)


def _emulator(dataset: Any, account_id: str, credential: str) -> Any:
    from tests.server.providers.fake.emulator import FakeEmulator

    return FakeEmulator(dataset, credential)


SPEC = ProviderSpec(
    name="fake",
    title="Fake",
    mode="live",
    account_id=AccountId("anything"),
    default_base_url="https://fake.example",
    headers=lambda account_id, credential: {"x-fake-token": credential},
    probe=probe,
    adapter=_adapter,
    emulated=Emulated(_dataset, _emulator, "fake-account", "people → participants"),
)
