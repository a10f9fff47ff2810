"""Documents seen before: parsed, checked and validated once, then reused.

Keyed by the query text. An entry holds the parsed document and its analysis (or why it
was refused: too long, not GraphQL, over a limit) and, per set of scopes, what the policy
and validation said of it, the plans compiled from it and the prices it was given.
Bounded in entries and in bytes (an entry weighs its text several times over, roughly
what its syntax tree costs), least recently used first out, so clients sending only new
documents cannot grow memory.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from graphql import DocumentNode, GraphQLError

from schema.engine.analysis import Analysis

# What one byte of query text costs once parsed, roughly (a syntax tree of small objects).
PARSED_WEIGHT = 24
ENTRY_OVERHEAD = 2048


@dataclass
class Checked:
    """A document as one set of scopes sees it: refused (the errors to answer with), or
    valid (then `plans` caches what was compiled for it, and `costs` what it was priced)."""

    refusal: list[GraphQLError] | None
    plans: dict[Hashable, Any] = field(default_factory=dict)
    costs: dict[Hashable, Any] = field(default_factory=dict)


@dataclass
class CachedDocument:
    document: DocumentNode | None
    refusal: list[dict[str, Any]] | None  # parse errors and limits, already formatted
    analysis: Analysis | None = None  # what every later step reads (`schema/engine`)
    size: int = 0
    checked: dict[Hashable, Checked] = field(default_factory=dict)


class DocumentCache:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self._entries: LRUCache[str, CachedDocument] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda entry: entry.size
        )
        self.hits = 0
        self.misses = 0

    def get(self, query: str) -> CachedDocument | None:
        entry = self._entries.get(query)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def put(self, query: str, entry: CachedDocument) -> None:
        entry.size = ENTRY_OVERHEAD + PARSED_WEIGHT * len(query)
        if entry.size > self._entries.maxsize:
            return  # larger than the whole cache: answered, not kept
        self._entries[query] = entry  # least recently used out, by bytes...
        while len(self._entries) > self.max_entries:  # ...and by count
            self._entries.popitem()

    def __contains__(self, query: str) -> bool:
        return query in self._entries  # neither counted nor made more recent

    def peek(self, query: str) -> CachedDocument | None:
        """The entry, without counting a hit or a miss (for the request's log line)."""
        return self._entries.get(query) if query in self._entries else None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return int(self._entries.currsize)
