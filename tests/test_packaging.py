"""The wheel, installed alone in a fresh environment, works outside the checkout: what
`pip install business-api` gives a user, not what an editable install borrows from the
sources."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement

from server.http.graphiql import EXAMPLE_QUERY
from tests.live import business_api, running_demo

pytestmark = [pytest.mark.subprocess, pytest.mark.external, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
# The checkout's environments, caches and outputs: nothing a build reads.
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".ci-venv",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    "*.egg-info",
    ".*_cache",
    ".hypothesis",
    "artifacts",
    "*.db",
)


def _run(*command: str | Path) -> None:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"


def _build_isolation() -> list[str]:
    """No separate build environment (a download of the build backend every time) when
    this one already has what pyproject.toml's build needs, as the test extra brings."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for text in pyproject["build-system"]["requires"]:
        requirement = Requirement(text)
        try:
            present = version(requirement.name)
        except PackageNotFoundError:
            return []
        if not requirement.specifier.contains(present, prereleases=True):
            return []
    return ["--no-build-isolation"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `business-api` script of a new virtual environment holding the wheel and its
    dependencies only."""
    work = tmp_path_factory.mktemp("packaging")
    # Built from a copy: setuptools builds in the source tree, and a build/ folder left
    # there keeps files the checkout has since removed.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    pip = (sys.executable, "-m", "pip")
    _run(*pip, "wheel", "--quiet", "--no-deps", *_build_isolation(), "-w", work / "dist", source)
    (wheel,) = (work / "dist").glob("business_api-*.whl")
    # This environment's pip installs into the new one (`--python`), which so needs no pip
    # of its own; modules are compiled as they are first imported, not all at install.
    environment = work / "environment"
    _run(sys.executable, "-m", "venv", "--without-pip", environment)
    python = environment / "bin" / "python"
    _run(*pip, "--python", python, "install", "--quiet", "--no-compile", wheel)
    return environment / "bin" / "business-api"


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder outside the checkout, from which the checkout cannot be imported."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    yield tmp_path


def test_the_installed_command_checks_the_policy_the_wheel_ships(
    installed: Path, outside: Path
) -> None:
    checked = business_api(outside, "policy", "check", executable=installed)
    assert checked.returncode == 0, checked.stderr
    source = Path(checked.stderr.partition(": ")[0])
    assert source.parts[-2:] == ("policies", "business-api.toml")
    assert source.is_relative_to(installed.parents[1]), source
    assert source.read_bytes() == (ROOT / "policies" / "business-api.toml").read_bytes()


def test_the_installed_demo_answers_the_documents_query_with_the_key_it_prints(
    installed: Path, outside: Path
) -> None:
    with running_demo(outside, executable=installed) as demo:
        response = httpx.post(
            demo.graphql_url,
            json={"query": EXAMPLE_QUERY},
            headers={"Authorization": f"Bearer {demo.key}"},
            timeout=30,
        )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    assert body["data"]["activeBusiness"]["participants"]["nodes"]
