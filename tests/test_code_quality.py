"""The code stays as the project's standards ask: ruff clean and mypy clean."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
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


# The product modules outside an `emulated/` folder that may import one, and why. What
# serves production must never load an emulator, its data set or its mutation API.
EMULATED_ENTRY_POINTS = {
    # Matched as a glob: one line for every provider, so adding one stays a folder and a
    # registry line. Only its own `emulated/`, and only inside a function (the `emulated`
    # part of its `SPEC`), so that loading the registry loads no emulator.
    "server/providers/*/spec.py": "a provider's spec builds its emulator and data set when asked",
    # `business-api demo` only: the CLI imports it when that command runs.
    "server/demo.py": "the demo changes its emulators' data with the activity simulator",
}


def _imported(package: tuple[str, ...], node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Every module name `node` may load, relative imports made absolute from the importing
    module's `package` (`from a import b` may load `a.b`)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base_parts = package[: len(package) - node.level + 1] if node.level else ()
    base = ".".join([*base_parts, *([node.module] if node.module else [])])
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def _module_level(tree: ast.Module) -> set[ast.AST]:
    """The import statements that run when the module is loaded (not inside a function)."""
    found: set[ast.AST] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.add(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _emulated_imports(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line, module, at load time) for each import of an `emulated` package in `path`."""
    package = path.relative_to(ROOT).parent.parts
    tree = ast.parse(path.read_text(), filename=str(path))
    at_load = _module_level(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported(package, node):
                if "emulated" in name.split("."):
                    yield node.lineno, name, node in at_load
                    break


def test_only_the_entry_points_import_emulated_code() -> None:
    paths = sorted([*(ROOT / "server").rglob("*.py"), *(ROOT / "schema").rglob("*.py")])
    # An exception naming no module any more would hide nothing, and rot unnoticed.
    for pattern in EMULATED_ENTRY_POINTS:
        assert any(path.relative_to(ROOT).match(pattern) for path in paths), pattern
    offenders = []
    for path in paths:
        relative = path.relative_to(ROOT)
        if "emulated" in relative.parts[:-1]:
            continue
        entry = next((p for p in EMULATED_ENTRY_POINTS if relative.match(p)), None)
        for line, name, at_load in _emulated_imports(path):
            if entry == "server/providers/*/spec.py":
                own = f"server.providers.{relative.parts[2]}.emulated"
                if not at_load and (name == own or name.startswith(f"{own}.")):
                    continue
            elif entry is not None:
                continue
            offenders.append(f"{relative}:{line} imports {name}")
    assert offenders == [], "product code importing emulated code:\n" + "\n".join(offenders)


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
