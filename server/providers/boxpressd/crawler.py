"""The Boxpressd crawler: a venue's or brand's smoke sessions, by offset.

A first crawl pages every session created up to its start (`to` fixed, so the offsets do
not move while it runs), most recent first, 100 at a time, until a page holds fewer than
it asked for (`meta.count < limit`). Each page is committed with the offset after it, so
an interrupted crawl goes on from there. Once caught up the checkpoint keeps the newest
`createdAt` indexed; the next sync asks only for sessions created since then, minus an
overlap of an hour: a session can reach Boxpressd after the moment it says it was created
(the app records a smoke offline and uploads it later), and one read twice is simply
written again, never doubled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from schema.scalars import Instant
from schema.source import ConnectionRecord
from server.providers.boxpressd import mapping
from server.providers.http import PagingGuard, ProviderHttp
from server.store.index import Found

PAGE = 100  # Boxpressd's largest page
OVERLAP = timedelta(hours=1)
MAX_PAGES = 10_000  # a million sessions: past that, the provider is paging for ever


def business_path(account_id: str) -> str:
    """`venue/<id>` or `brand/<id>` → `/venues/<id>`."""
    kind, _, business = account_id.partition("/")
    return f"/{kind}s/{quote(business, safe='')}"


async def probe(http: ProviderHttp, connection: ConnectionRecord) -> None:
    """One smoke session of the venue or brand: the key, and that it belongs to that
    business (403 otherwise; 404 for a business Boxpressd does not know)."""
    path = business_path(connection.account_id) + "/sessions"
    await http.get(path, mapping.SessionsPage, {"limit": 1})


class BoxpressdCrawler:
    def __init__(self, http: ProviderHttp, connection: ConnectionRecord) -> None:
        self._http = http
        self._connection = connection.public_id
        self._path = business_path(connection.account_id) + "/sessions"

    async def crawl(self, checkpoint: Any, now: datetime) -> AsyncIterator[Found]:
        state = dict(checkpoint or {})
        if "to" not in state:  # a new crawl: everything since the last one, up to now
            newest = state.get("newest")
            since = None
            if newest:
                since = Instant.of(Instant(newest).to_datetime() - OVERLAP)
            state = {"to": Instant.at(now), "from": since, "offset": 0, "newest": newest}
        guard = PagingGuard(mapping.PROVIDER, max_pages=MAX_PAGES)
        while True:
            params = {"limit": PAGE, "offset": state["offset"], "to": state["to"]}
            if state.get("from"):
                params["from"] = state["from"]
            page = await self._http.get(self._path, mapping.SessionsPage, params)
            sessions = page.data
            newest = max([state.get("newest") or ""] + [s.created_at for s in sessions])
            state = {**state, "offset": state["offset"] + len(sessions), "newest": newest or None}
            last = page.meta.count < PAGE
            yield Found(
                participants=[mapping.participant(self._connection, s) for s in sessions],
                sessions=[mapping.activity_session(s) for s in sessions],
                registrations=[(s.user.id, mapping.registration(s), 1) for s in sessions],
                checkpoint={"newest": state["newest"]} if last else state,
            )
            if last:
                return
            guard.more(state["offset"], len(sessions))
