"""Fixtures of the provider tests."""

from tests.server.providers.indexing import place

__all__ = ["place"]
