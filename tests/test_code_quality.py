"""The code stays as the project's standards ask: ruff clean and mypy clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
