"""The providers this server reads. Adding one is a folder under `server/providers/`
and a line here."""

from __future__ import annotations

from server.providers.sessionboard.spec import SPEC as SESSIONBOARD
from server.providers.spec import ProviderSpec
from server.providers.wix.spec import SPEC as WIX

PROVIDERS: tuple[ProviderSpec, ...] = (WIX, SESSIONBOARD)
