"""Every import of another distribution's internals is known, pinned and explained.

An internal is a module or name that starts with `_`, or a module below a package's public
surface (graphql-core's modules under its subpackages, purgatory's below its package,
uvicorn's protocols and supervisors). Such code changes in any release, so each import of
one is in `ALLOWED` with the distribution that ships it and why, and that distribution is
pinned in pyproject.toml below its next minor release (or exactly): a new internal import
fails here until it gets a pin and a reason.
"""

from __future__ import annotations

import ast
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("server", "schema")
FIRST_PARTY = {"server", "schema", "policies", "tests", "__future__"}

# uvicorn documents `uvicorn.run`, `Config`, `Server` and its CLI; these are its machinery.
UVICORN_INTERNALS = (
    "uvicorn.protocols",
    "uvicorn.supervisors",
    "uvicorn.lifespan",
    "uvicorn.loops",
)

# Imported module -> (distribution pinned for it, what the code needs from it).
ALLOWED: dict[str, tuple[str, str]] = {
    "uvicorn.protocols.http.httptools_impl": (
        "uvicorn",
        "HttpToolsProtocol, subclassed for a deadline on a request's headers",
    ),
    "uvicorn.supervisors.multiprocess": (
        "uvicorn",
        "Multiprocess and its Process, subclassed to say why a worker was replaced",
    ),
    "graphql.execution.executor": (
        "graphql-core",
        "Executor.build: the operation context execution itself validates",
    ),
    "graphql.execution.values": (
        "graphql-core",
        "argument and directive values coerced as execution coerces them",
    ),
    "graphql.utilities.coerce_input_value": (
        "graphql-core",
        "coerce_default_value: a connection's default `first`, as execution reads it",
    ),
    "purgatory.domain": ("purgatory", "model: the clock an open circuit's cool-down runs on"),
    "purgatory.domain.model": ("purgatory", "OpenedState: when an open circuit opened"),
    "purgatory.service._async.repository": (
        "purgatory",
        "AsyncInMemoryRepository: the breakers kept, to forget a gone connection's",
    ),
}


def _internal(module: str, names: list[str]) -> bool:
    parts = module.split(".")
    if any(part.startswith("_") for part in parts) or any(n.startswith("_") for n in names):
        return True
    if parts[0] == "graphql":  # its API is `graphql` and its subpackages' `__init__`
        return len(parts) > 2
    if parts[0] == "purgatory":  # its package re-exports all of its API
        return len(parts) > 1
    return module.startswith(UVICORN_INTERNALS)


def internal_imports() -> dict[str, list[str]]:
    """Internal modules imported by the product's code -> where each is imported."""
    found: dict[str, list[str]] = {}
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(), where)):
                if isinstance(node, ast.Import):
                    imported = [(alias.name, []) for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported = [(node.module, [alias.name for alias in node.names])]
                else:
                    continue
                for module, names in imported:
                    if module.split(".")[0] not in FIRST_PARTY and _internal(module, names):
                        found.setdefault(module, []).append(where)
    return found


def pins() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = (Requirement(line) for line in project["dependencies"])
    return {requirement.name: requirement for requirement in requirements}


def test_every_internal_import_is_allowed_with_a_reason() -> None:
    unexplained = {m: where for m, where in internal_imports().items() if m not in ALLOWED}
    assert not unexplained, (
        f"internal imports without a pin and a reason: {unexplained}; pin the distribution "
        "in pyproject.toml below its next minor release and add the module to ALLOWED"
    )


def test_the_allowlist_names_only_internals_still_imported() -> None:
    assert sorted(ALLOWED) == sorted(internal_imports())


def test_each_distribution_with_internals_in_use_is_pinned_below_its_next_release() -> None:
    declared = pins()
    for module, (distribution, _) in ALLOWED.items():
        requirement = declared.get(distribution)
        assert requirement is not None, f"{module}: {distribution} is not a dependency"
        bounds = {spec.operator for spec in requirement.specifier}
        assert bounds & {"==", "<", "<=", "~="}, f"{module}: {requirement} has no upper bound"
        installed = metadata.version(distribution)
        assert requirement.specifier.contains(installed, prereleases=True), (
            f"{distribution} {installed} is installed, outside its pin {requirement}"
        )


def test_an_import_below_a_public_surface_is_seen_as_internal() -> None:
    assert _internal("strawberry.schema._graphql_core", ["execution_context_class_kwargs"])
    assert _internal("graphql.execution.executor", ["Executor"])
    assert _internal("purgatory.domain.model", ["OpenedState"])
    assert _internal("uvicorn.protocols.http.httptools_impl", ["HttpToolsProtocol"])
    assert _internal("starlette.responses", ["_private"])
    assert not _internal("graphql", ["Executor"])
    assert not _internal("graphql.execution", ["get_argument_values"])
    assert not _internal("purgatory", ["AsyncCircuitBreakerFactory"])
    assert not _internal("uvicorn.config", ["Config"])
    assert not _internal("strawberry.types", ["Info"])
