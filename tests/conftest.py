"""What every test shares, built once per session: the emulated providers' socket, the
graph each policy file gives, a migrated SQLite store to copy; and the check that
provider traffic goes through the transport production runs."""

from __future__ import annotations

import asyncio
import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.services import Graph, load_graph
from server.store.database import create_engine, migrate
from tests.transports import check_transports, record_transports
from tests.upstream import SocketUpstream

QUICK_SKIPS = ("slow", "subprocess", "browser", "external")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        help=f"leave out the tests marked {', '.join(QUICK_SKIPS)} (the inner loop; "
        "with -n auto, on every core)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--quick"):
        return
    kept, left = [], []
    for item in items:
        (left if any(item.get_closest_marker(m) for m in QUICK_SKIPS) else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.fixture(scope="session")
def upstream() -> Iterator[SocketUpstream]:
    """The emulated providers' server: one socket for the whole session."""
    server = SocketUpstream().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _production_transport_only(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fails the test if a provider call in it could go through another transport than
    the one production runs (outside the list in `tests/transports.py`)."""
    used = record_transports(monkeypatch)
    yield
    check_transports(request.node.path, used)


PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """The transport honours the environment's proxy variables, loopback included, as
    requests and httpx do: a developer's own would carry the tests' calls to providers on
    127.0.0.1 through their proxy. Tests of proxies name theirs (`environ=`, setenv)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(scope="session")
def graph_of() -> Callable[[Path], Graph]:
    """The graph of a policy file, loaded once per file for the session."""
    loaded: dict[Path, Graph] = {}

    def graph(policy_path: Path) -> Graph:
        if policy_path not in loaded:
            loaded[policy_path] = load_graph(policy_path)
        return loaded[policy_path]

    return graph


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated to the newest revision, copied by each test that needs one."""
    path = tmp_path_factory.mktemp("template") / "store.db"

    async def migrated() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrated())
    return path


@pytest.fixture
def migrated_store(store_template: Path, tmp_path: Path) -> Path:
    """`tmp_path/store.db`, migrated (a copy of the session's template)."""
    path = tmp_path / "store.db"
    shutil.copy2(store_template, path)
    return path


@pytest.fixture(scope="session")
def datasets() -> Callable[[Any, int, int], Any]:
    """A provider's seeded data set, generated once per (generator, seed, size) and
    handed out as a copy, so a test may spoil its own."""
    generated: dict[tuple[Any, int, int], bytes] = {}

    def dataset(spec: Any, seed: int, size: int) -> Any:
        key = (spec.emulated.dataset, seed, size)
        if key not in generated:
            generated[key] = pickle.dumps(spec.emulated.dataset(seed, size))
        return pickle.loads(generated[key])

    return dataset
