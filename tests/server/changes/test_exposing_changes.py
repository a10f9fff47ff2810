"""The README's way for an operator to let keys read the change log: its policy lines,
added to the default policy, make `activeBusiness.changes` readable with the new scope
and with it only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.settings import DEFAULT_POLICY
from tests.server.conftest import ALL_SCOPES, World
from tests.server.test_change_log_reading import _logged

README = Path(__file__).resolve().parents[3] / "README.md"
CHANGES = "{ activeBusiness { changes(first: 5) { nodes { seq topic recordId fields } } } }"


def readme_policy_lines() -> str:
    section = README.read_text(encoding="utf-8").split("### Change tracking", 1)[1]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]


def with_lines(policy: str, lines: str) -> str:
    """Each of `lines`' tables merged into the policy's table of that name (TOML allows a
    table once), or added."""
    for header, body in re.findall(r"^(\[[^\]]+\])\n((?:[^\[\n].*\n)*)", lines, re.M):
        if f"\n{header}\n" in policy:
            policy = policy.replace(f"\n{header}\n", f"\n{header}\n{body}", 1)
        else:
            policy += f"\n{header}\n{body}"
    return policy


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(
        with_lines(DEFAULT_POLICY.read_text(encoding="utf-8"), readme_policy_lines()),
        encoding="utf-8",
    )
    return path


async def test_the_readme_s_policy_lines_let_a_key_with_the_scope_read_the_log(
    world: World,
) -> None:
    changes = await _logged(world)
    _, key = await world.services.store.create_api_key(
        world.business_ids["tremble"], name="changes", scopes=[*ALL_SCOPES, "changes:read"]
    )
    body = (await world.query(CHANGES, key=key)).json()
    assert "errors" not in body, body
    nodes = body["data"]["activeBusiness"]["changes"]["nodes"]
    assert [(n["seq"], n["topic"], n["recordId"]) for n in nodes] == [
        (str(i + 1), c.topic, c.record_gid) for i, c in enumerate(changes)
    ]
    refused = (await world.query(CHANGES)).json()  # a key without the scope
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
