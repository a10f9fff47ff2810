"""The key endpoint passes graphql-http's GraphQL-over-HTTP audit, over a real socket.

The audit is the reference implementation's own conformance suite; every MUST and SHOULD in
it has to pass (MAY items are reported, not required).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import running_demo

pytestmark = [pytest.mark.subprocess, pytest.mark.external]

AUDIT_DIR = Path(__file__).resolve().parent.parent / "http_audit"
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.skipif(
    not (AUDIT_DIR / "node_modules").is_dir(),
    reason="graphql-http is not installed: run npm ci --prefix tests/http_audit",
)
def test_the_key_endpoint_passes_every_must_and_should_of_the_graphql_over_http_audit(
    tmp_path: Path,
) -> None:
    assert NODE is not None
    # The audit sends more requests than one key may make in a minute by default.
    unlimited = {
        "BUSINESS_API_KEY_RATE_LIMIT": "100000",
        "BUSINESS_API_BUSINESS_RATE_LIMIT": "100000",
    }
    with running_demo(tmp_path, unlimited) as demo:
        run = subprocess.run(
            [NODE, str(AUDIT_DIR / "audit.mjs"), demo.graphql_url, demo.key],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    results = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert results, "the audit reported nothing:\n" + run.stderr
    # graphql-http reports a failed MUST as "error" and a failed SHOULD as "warn".
    failing = [
        f"{result['id']} {result['name']}: {result['status']}: {result['reason']}"
        for result in results
        if result["name"].startswith(("MUST", "SHOULD")) and result["status"] != "ok"
    ]
    assert failing == [], "\n".join(failing)
