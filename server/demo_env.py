"""`business-api-demo.env`: the demo store's settings, kept in the folder the demo ran in.

`business-api demo` writes it, so that the plain `business-api` command run in the same
folder (`keys list`, `connections add`, ...) manages the demo's store with nothing to set:
the CLI reads it through `Settings.from_environ(env_file=...)`, the real environment
winning. It holds the store's secret key and the demo's API key, so only its owner may
read it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from starlette.config import Config

DEMO_ENV_FILE = Path("business-api-demo.env")

# Not a setting: only the demo reads it back, to give out the same key on every run.
DEMO_KEY = "BUSINESS_API_DEMO_KEY"

_HEADER = (
    "# Written by `business-api demo`: the settings of the demo's store. The `business-api`\n"
    "# command run in this folder reads them (variables set in the environment win).\n"
)


def read_env_file(path: Path) -> dict[str, str]:
    """The file's variables, or none when there is no file."""
    if not path.is_file():
        return {}
    return dict(Config(path, environ={}).file_values)


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Replace the file in one step with `NAME=value` lines. The new file is created
    readable by its owner only before anything is written to it, so the secrets in it are
    never readable by others, not even for a moment."""
    for name, value in values.items():
        if "\n" in value or "\r" in value or value.strip().strip("\"'") != value:
            raise ValueError(f"{name} cannot be written on one line")
    text = _HEADER + "".join(f"{name}={value}\n" for name, value in values.items())
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
