"""Where the workers of `serve --workers N` meet to count: `PROMETHEUS_MULTIPROC_DIR`.

prometheus-client's multiprocess mode keeps every process's samples in files in that
directory, and a scrape adds them up. The client reads the variable when it is imported,
so it is set here, in the parent, before uvicorn starts the workers, which inherit it.
The operator's own directory is used when the variable is set; otherwise several workers
get a private temporary directory, made for the run and removed after it. Samples of an
earlier run are removed first either way: counters start again from zero with the server,
as Prometheus expects of a restart.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def _clear_earlier_runs(directory: Path) -> None:
    """Every sample file but this process's own (opened already if it counted anything)."""
    own = f"_{os.getpid()}.db"
    for stale in directory.glob("*.db"):
        if not stale.name.endswith(own):
            stale.unlink(missing_ok=True)


@contextmanager
def shared_metrics(workers: int) -> Iterator[Path | None]:
    """The directory the workers count in while the server runs (None: one process
    without the variable, which counts in memory)."""
    named = os.environ.get(VARIABLE)
    if named:
        directory = Path(named)
        _clear_earlier_runs(directory)
        yield directory
        return
    if workers == 1:
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="business-api-metrics-"))  # private: 0700
    os.environ[VARIABLE] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop(VARIABLE, None)
        shutil.rmtree(directory, ignore_errors=True)
