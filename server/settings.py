"""Settings: read once from the environment into one frozen object that is passed down.

Starlette's `Config` does the reading (typed casts, errors that name the variable, `Secret`
values whose repr hides them); tests pass `environ={...}` instead of patching os.environ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.config import Config
from starlette.datastructures import Secret

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./business-api.db"
DEFAULT_POLICY = Path(__file__).resolve().parent.parent / "policies" / "business-api.toml"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the variable."""


def _positive(config: Config, name: str, default: int) -> int:
    try:
        value = config(name, cast=int, default=default)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number.") from None
    if value < 1:
        raise SettingsError(f"{name} must be at least 1.")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: Secret
    admin_token: Secret | None
    policy_path: Path
    max_body_bytes: int
    upstream_timeout_seconds: float
    last_used_flush_seconds: float
    redis_url: str | None
    key_rate_limit: int
    business_rate_limit: int
    max_depth: int
    max_aliases: int
    max_tokens: int
    execution_timeout_seconds: float

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> Settings:
        config = Config(environ=dict(os.environ if environ is None else environ))
        secret = config("BUSINESS_API_SECRET_KEY", cast=Secret, default=None)
        if secret is None and "secret_key" not in overrides:
            raise SettingsError(
                "BUSINESS_API_SECRET_KEY is not set: it signs cursors and encrypts provider "
                "credentials (use 32 or more random characters)."
            )
        if secret is not None and len(str(secret)) < 16:
            raise SettingsError("BUSINESS_API_SECRET_KEY must be at least 16 characters long.")
        admin = config("BUSINESS_API_ADMIN_TOKEN", cast=Secret, default=None)
        values: dict[str, object] = {
            "database_url": config("BUSINESS_API_DATABASE_URL", default=DEFAULT_DATABASE_URL),
            "secret_key": secret,
            "admin_token": admin if admin is not None and str(admin) else None,
            "policy_path": config("BUSINESS_API_POLICY", cast=Path, default=DEFAULT_POLICY),
            "max_body_bytes": config("BUSINESS_API_MAX_BODY_BYTES", cast=int, default=100_000),
            "upstream_timeout_seconds": config(
                "BUSINESS_API_UPSTREAM_TIMEOUT", cast=float, default=10.0
            ),
            "last_used_flush_seconds": config(
                "BUSINESS_API_LAST_USED_FLUSH_SECONDS", cast=float, default=5.0
            ),
            "redis_url": config("BUSINESS_API_REDIS_URL", default=None) or None,
            "key_rate_limit": _positive(config, "BUSINESS_API_KEY_RATE_LIMIT", 60),
            "business_rate_limit": _positive(config, "BUSINESS_API_BUSINESS_RATE_LIMIT", 120),
            "max_depth": _positive(config, "BUSINESS_API_MAX_DEPTH", 10),
            "max_aliases": _positive(config, "BUSINESS_API_MAX_ALIASES", 15),
            "max_tokens": _positive(config, "BUSINESS_API_MAX_TOKENS", 2000),
            "execution_timeout_seconds": config(
                "BUSINESS_API_EXECUTION_TIMEOUT", cast=float, default=10.0
            ),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
