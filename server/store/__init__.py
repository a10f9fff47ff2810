"""Persistent state: businesses, their API keys and their provider connections.

Submodules are imported explicitly (``server.store.database``, ``.keys``, ``.crypto``,
``.models``, ``.repository``) so that importing the package stays cheap.
"""
