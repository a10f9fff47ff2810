"""The code stays as the project's standards ask: ruff clean and mypy clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_the_code_passes_ruff() -> None:
    checked = _run("ruff", "check", "server", "schema", "tests", "benchmarks")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = _run("ruff", "format", "--check", "server", "schema", "tests", "benchmarks")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


@pytest.mark.slow
def test_the_code_passes_mypy() -> None:
    checked = _run("mypy", "server", "schema")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_schema_never_imports_server() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "schema").rglob("*.py")
        if "from server" in path.read_text() or "import server" in path.read_text()
    ]
    assert offenders == []


def test_a_provider_is_named_only_in_its_folder_the_registry_and_the_readme() -> None:
    """Adding a provider is its folder and a registry line: nothing else in the product
    knows its name (Wix, the first, is the graph's examples' provider and is exempt)."""
    from server.providers.registry import FOLDERS

    # "sessions" is also the graph's own word (activity sessions), so it cannot be
    # searched for; the other names can.
    for name in (f for f in FOLDERS[1:] if f != "sessions"):
        listed = subprocess.run(
            ["git", "grep", "-il", name, "--", ".", ":!tests", f":!server/providers/{name}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split()
        assert sorted(listed) == ["README.md", "server/providers/registry.py"], name
        registry = (ROOT / "server/providers/registry.py").read_text().lower()
        assert len([line for line in registry.splitlines() if name in line]) == 1
