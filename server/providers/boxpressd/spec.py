"""Boxpressd: an indexed provider (a venue's or a brand's smoke sessions)."""

from __future__ import annotations

import re
from typing import Any

from schema.source import ConnectionRecord
from server.providers.boxpressd.crawler import BoxpressdCrawler, probe
from server.providers.boxpressd.mapping import PROVIDER
from server.providers.http import ProviderHttp
from server.providers.indexed import Crawler, IndexView, PersonIds
from server.providers.spec import AccountId, Emulated, ProviderSpec

_ACCOUNT = re.compile(r"(venue|brand)/[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def _check_account(value: str) -> str | None:
    return None if _ACCOUNT.fullmatch(value) else "must be venue/<id> or brand/<id>"


def _headers(account_id: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _crawler(
    http: ProviderHttp, connection: ConnectionRecord, index: IndexView, person_id: PersonIds
) -> Crawler:
    return BoxpressdCrawler(http, connection)


def _dataset(seed: int, size: int) -> Any:
    from server.providers.boxpressd.emulated.dataset import generate_dataset

    return generate_dataset(seed=seed, sessions=size * 3, users=size)


def _emulator(dataset: Any, account_id: str, key: str) -> Any:
    from server.providers.boxpressd.emulated.emulator import create_emulator

    kind, _, business = account_id.partition("/")
    return create_emulator(dataset, api_key=key, business_type=kind, business_id=business)


SPEC = ProviderSpec(
    name=PROVIDER,
    title="Boxpressd",
    mode="indexed",
    account_id=AccountId(
        "the venue or brand, as venue/<id> or brand/<id>", _check_account, "venue/stogies-chapin"
    ),
    default_base_url="https://api.boxpressd.com",
    headers=_headers,
    probe=probe,
    crawler=_crawler,
    emulated=Emulated(
        dataset=_dataset,
        emulator=_emulator,
        account_id="venue/stogies-chapin",
        maps="distinct users of the venue's or brand's smoke sessions → participants "
        "(display name, no email); each smoke session → an attended registration",
    ),
)
