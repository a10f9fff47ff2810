"""Wix: a live provider (Contacts, Email Marketing, Bookings, eCommerce)."""

from __future__ import annotations

import re
from typing import Any

from schema.source import ConnectionRecord
from server.providers.base import ProviderAdapter
from server.providers.http import ProviderHttp
from server.providers.spec import AccountId, Emulated, ProviderSpec
from server.providers.watched import Watcher
from server.providers.wix.client import WixAdapter, probe
from server.providers.wix.mapping import PROVIDER
from server.providers.wix.watcher import WixWatcher

_SITE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{2,63}")


def _check_site_id(value: str) -> str | None:
    return None if _SITE_ID.fullmatch(value) else "must be a Wix site id (letters, digits, -)"


def _headers(site_id: str, api_key: str) -> dict[str, str]:
    # Wix takes the raw API key, without `Bearer`, and the site in its own header.
    return {"Authorization": api_key, "wix-site-id": site_id}


def _adapter(http: ProviderHttp, connection: ConnectionRecord) -> ProviderAdapter:
    return WixAdapter(http, connection=connection.public_id)


def _watcher(http: ProviderHttp, connection: ConnectionRecord) -> Watcher:
    return WixWatcher(http, connection.public_id)


def _dataset(seed: int, size: int) -> Any:
    from server.providers.wix.emulated.dataset import generate_dataset

    return generate_dataset(seed=seed, contacts=size)


def _emulator(dataset: Any, site_id: str, api_key: str) -> Any:
    from server.providers.wix.emulated.emulator import create_emulator

    return create_emulator(dataset, api_key=api_key, site_id=site_id)


SPEC = ProviderSpec(
    name=PROVIDER,
    title="Wix",
    mode="live",
    account_id=AccountId("the Wix site id", _check_site_id, "1c5e1c8e-7b7f-4a57-a1f3-4f2d0c0b7f3e"),
    default_base_url="https://www.wixapis.com",
    headers=_headers,
    probe=probe,
    adapter=_adapter,
    watcher=_watcher,
    emulated=Emulated(
        dataset=_dataset,
        emulator=_emulator,
        account_id="site-tremble",
        maps="contacts → participants (name, email); email subscriptions → consent; "
        "bookings → registrations; order line items → purchases",
    ),
)
