"""Settings: read once from the environment, with errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings, SettingsError, markdown_table

SECRET = {"BUSINESS_API_SECRET_KEY": "a-secret-key-of-enough-length"}


def test_the_defaults_are_the_documented_ones() -> None:
    settings = Settings.from_environ(SECRET)
    assert settings.database_url == "sqlite+aiosqlite:///./business-api.db"
    assert (settings.key_rate_limit, settings.business_rate_limit) == (60, 120)
    assert (settings.max_depth, settings.max_aliases, settings.max_tokens) == (10, 15, 2000)
    assert settings.max_body_bytes == 100_000
    assert settings.execution_timeout_seconds == 10.0
    assert settings.redis_url is None and settings.admin_token is None


def test_the_secret_key_never_shows_in_a_repr() -> None:
    settings = Settings.from_environ(SECRET)
    assert "a-secret-key-of-enough-length" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "BUSINESS_API_SECRET_KEY"),
        ({"BUSINESS_API_SECRET_KEY": "short"}, "BUSINESS_API_SECRET_KEY"),
        ({**SECRET, "BUSINESS_API_KEY_RATE_LIMIT": "0"}, "BUSINESS_API_KEY_RATE_LIMIT"),
        ({**SECRET, "BUSINESS_API_MAX_DEPTH": "deep"}, "BUSINESS_API_MAX_DEPTH"),
        ({**SECRET, "BUSINESS_API_MAX_BODY_BYTES": "-1"}, "BUSINESS_API_MAX_BODY_BYTES"),
        ({**SECRET, "BUSINESS_API_EXECUTION_TIMEOUT": "0"}, "BUSINESS_API_EXECUTION_TIMEOUT"),
        ({**SECRET, "BUSINESS_API_ADMIN_TOKEN": "short"}, "BUSINESS_API_ADMIN_TOKEN"),
        ({**SECRET, "BUSINESS_API_STORE_POLL_SECONDS": "9"}, "BUSINESS_API_STORE_POLL_SECONDS"),
        ({**SECRET, "BUSINESS_API_DATABASE_URL": "mysql://db/x"}, "BUSINESS_API_DATABASE_URL"),
        ({**SECRET, "BUSINESS_API_LOG_FORMAT": "xml"}, "BUSINESS_API_LOG_FORMAT"),
    ],
)
def test_a_wrong_setting_is_an_error_naming_the_variable(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_environ(environ)


def test_the_readme_lists_every_setting_as_the_settings_declare_them() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme
