"""`business-api --help` and `--version` answer at once: the command line loads neither
the graph, nor the store, nor the providers until a command needs them."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import pytest

from tests.live import _command

# What a command loads when it runs, and the command line must not load before.
HEAVY = (
    "alembic",
    "graphql",
    "httpx",
    "sqlalchemy",
    "strawberry",
    "schema.policy",
    "server.providers.registry",
    "server.store.repository",
    "server.webhooks.subscriptions",
)


def test_the_command_line_loads_nothing_heavy_before_a_command_runs() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, server.cli; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY] == []


@pytest.mark.subprocess
@pytest.mark.parametrize("option", ["--version", "--help"])
def test_version_and_help_answer_in_well_under_a_second(option: str) -> None:
    took = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([*_command(), option], capture_output=True, check=True)
        took.append(time.perf_counter() - started)
    assert statistics.median(took) < 1.0, took
