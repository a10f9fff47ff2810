"""The Boxpressd crawler: a venue's or brand's smoke sessions, by offset.

A first crawl pages every session created up to its start (`to` fixed, so the offsets do
not move while it runs), most recent first, 100 at a time, until a page holds fewer than
it asked for (`meta.count < limit`). Each page is committed with the offset after it, so
an interrupted crawl goes on from there. Once caught up the checkpoint keeps the newest
`createdAt` indexed; the next sync asks only for sessions created since then, minus an
overlap of an hour: a session can reach Boxpressd after the moment it says it was created
(the app records a smoke offline and uploads it later), and one read twice is simply
written again, never doubled.

Pages are checked as they are decoded (`mapping.py`: ids, timestamps): a bad one is a
provider failure and nothing of it is indexed. A page bringing back sessions this pass
already read is a provider failure too, and a session claiming to be created after the
crawl's `to` is indexed but never moves the newest `createdAt` (else one dated 9999 would
hide every later session). The checkpoint is a few timestamps and an offset; one that
cannot be read starts the crawl afresh.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import msgspec

from schema.scalars import Instant
from schema.source import ConnectionRecord
from server.providers.boxpressd import mapping
from server.providers.errors import InvalidResponse
from server.providers.http import PagingGuard, ProviderHttp
from server.providers.indexed import SeenItems, Timestamp, read_checkpoint
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


class Checkpoint(msgspec.Struct, rename={"since": "from"}):
    newest: Timestamp | None = None  # the newest `createdAt` indexed
    to: Timestamp | None = None  # while a crawl is under way: what it pages, and where
    since: Timestamp | None = None
    offset: Annotated[int, msgspec.Meta(ge=0)] = 0

    def written(self) -> dict[str, Any]:
        newest = mapping.instant(self.newest)
        if self.to is None:  # caught up
            return {"newest": newest}
        since = mapping.instant(self.since)
        return {"to": Instant.at(self.to), "from": since, "offset": self.offset, "newest": newest}


class BoxpressdCrawler:
    def __init__(self, http: ProviderHttp, connection: ConnectionRecord) -> None:
        self._http = http
        self._connection = connection.public_id
        self._path = business_path(connection.account_id) + "/sessions"

    async def crawl(self, checkpoint: Any, now: datetime) -> AsyncIterator[Found]:
        state = read_checkpoint(checkpoint, Checkpoint, self._connection) or Checkpoint()
        if state.to is None:  # a new crawl: everything since the last one, up to now
            since = state.newest - OVERLAP if state.newest else None
            # `to` as it is sent, to the millisecond
            state.to, state.since, state.offset = Instant.at(now).to_datetime(), since, 0
        to = state.to
        guard = PagingGuard(mapping.PROVIDER, max_pages=MAX_PAGES)
        seen = SeenItems(mapping.PROVIDER, "sessions")
        while True:
            params: dict[str, Any] = {"limit": PAGE, "offset": state.offset, "to": Instant.at(to)}
            if state.since is not None:
                params["from"] = Instant.at(state.since)
            page = await self._http.get(self._path, mapping.SessionsPage, params)
            sessions = page.data
            if len(sessions) > PAGE:
                raise InvalidResponse(mapping.PROVIDER, f"{len(sessions)} sessions on a page")
            seen.add([s.id for s in sessions])
            created = [s.created_at for s in sessions if s.created_at <= to]
            state.newest = max([state.newest, *created] if state.newest else created, default=None)
            state.offset += len(sessions)
            last = page.meta.count < PAGE
            yield Found(
                participants=[mapping.participant(self._connection, s) for s in sessions],
                sessions=[mapping.activity_session(s) for s in sessions],
                registrations=[(s.user.id, mapping.registration(s), 1) for s in sessions],
                checkpoint=Checkpoint(newest=state.newest).written() if last else state.written(),
            )
            if last:
                return
            guard.more(state.offset, len(sessions))
