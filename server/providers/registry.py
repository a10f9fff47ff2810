"""The providers this server reads: each is a folder under `server/providers/` whose
`spec.py` declares a `SPEC`. Adding one is its folder and its name on the line below."""

from __future__ import annotations

from importlib import import_module

from server.providers.spec import ProviderSpec

FOLDERS = ("wix", "sessionboard", "sessions", "boxpressd")

PROVIDERS: tuple[ProviderSpec, ...] = tuple(
    import_module(f"server.providers.{folder}.spec").SPEC for folder in FOLDERS
)
