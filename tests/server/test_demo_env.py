"""The demo's env file: written for its owner only, read back as settings under the
environment."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.demo_env import DEMO_KEY, read_env_file, write_env_file
from server.settings import Settings

VALUES = {
    "BUSINESS_API_DATABASE_URL": "sqlite+aiosqlite:////srv/demo folder/business-api-demo.db",
    "BUSINESS_API_SECRET_KEY": "demo-secret-0123456789abcdef",
    DEMO_KEY: "sk_0123456789ab_abcdefABCDEF0123456789",
}


def test_the_env_file_is_readable_by_its_owner_only_and_reads_back_as_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "business-api-demo.env"
    path.write_text("old\n")
    path.chmod(0o644)
    write_env_file(path, VALUES)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_env_file(path) == VALUES
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_a_missing_env_file_reads_as_empty(tmp_path: Path) -> None:
    assert read_env_file(tmp_path / "business-api-demo.env") == {}


@pytest.mark.parametrize("value", ["two\nlines", " padded", '"quoted"'])
def test_a_value_that_would_not_read_back_the_same_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match="BUSINESS_API_SECRET_KEY"):
        write_env_file(tmp_path / "demo.env", {"BUSINESS_API_SECRET_KEY": value})
    assert not (tmp_path / "demo.env").exists()


def test_settings_take_the_env_file_for_what_the_environment_leaves_unset(tmp_path: Path) -> None:
    path = tmp_path / "business-api-demo.env"
    write_env_file(path, VALUES)
    from_file = Settings.from_environ({}, env_file=path)
    assert from_file.database_url == VALUES["BUSINESS_API_DATABASE_URL"]
    assert str(from_file.secret_key) == VALUES["BUSINESS_API_SECRET_KEY"]
    environ = {"BUSINESS_API_DATABASE_URL": "sqlite+aiosqlite:///elsewhere.db"}
    under_environment = Settings.from_environ(environ, env_file=path)
    assert under_environment.database_url == "sqlite+aiosqlite:///elsewhere.db"
    assert str(under_environment.secret_key) == VALUES["BUSINESS_API_SECRET_KEY"]
