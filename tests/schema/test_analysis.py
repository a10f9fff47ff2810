"""One analysis pass: each selection set of a document, each fragment's included, is
visited once for the limits, the policy, the price and the plan together, however often a
fragment is spread and however many prices and plans are made from it; and no other
module of the engine walks the syntax tree."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from graphql import FragmentDefinitionNode, SelectionSetNode

from schema.api import Query, build_internal_schema
from schema.engine import analysis, compiled
from schema.engine.execution import Executor
from schema.policy import SchemaSlices, load_policy

ROOT = Path(__file__).resolve().parents[2]
POLICY_PATH = ROOT / "policies" / "business-api.toml"

DOCUMENT = """
query Page($n: Int, $withEmail: Boolean!) {
  activeBusiness {
    a: participants(first: $n) { nodes { ...Person ...Person } }
    b: participants(first: 2) { nodes { ...Person ...Bought } }
  }
}
fragment Person on BusinessParticipant { id name email @include(if: $withEmail) ...Booked }
fragment Booked on BusinessParticipant { registrations(first: 2) { nodes { id status } } }
fragment Bought on BusinessParticipant { productPurchases(first: 1) { nodes { id } } ...Booked }
"""


async def test_each_selection_set_is_visited_once_for_every_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = load_policy(POLICY_PATH)
    slices = SchemaSlices(policy, Query)
    executor = Executor(build_internal_schema(), slices, policy)
    visited: list[int] = []
    original = analysis._Analyser.selection

    def counted(self: Any, selection_set: SelectionSetNode, parent: Any) -> Any:
        visited.append(id(selection_set))
        return original(self, selection_set, parent)

    monkeypatch.setattr(analysis._Analyser, "selection", counted)
    scopes = frozenset(policy.scopes)
    entry, checked = await executor.checked(DOCUMENT, scopes)  # the limits and the policy
    assert entry.document is not None and entry.analysis is not None
    assert checked is not None and checked.refusal is None
    after_checks = len(visited)
    schema = slices.for_scopes(scopes)
    for variables in ({"n": 3, "withEmail": True}, {"n": 5, "withEmail": False}):
        built = compiled.build(schema, entry.document, variables, "Page")
        assert not isinstance(built, list)
        price = await executor._price(schema, entry.analysis, built, checked)
        assert price.requested > 0
        assert compiled.compile_plan(schema, entry.analysis, built) is not None

    fragments = [d for d in entry.document.definitions if isinstance(d, FragmentDefinitionNode)]
    assert len(visited) == after_checks  # the prices and plans walked nothing again
    assert len(visited) == len(set(visited))  # each selection set once
    for fragment in fragments:  # spread five times (Booked), three (Person), once (Bought)
        assert visited.count(id(fragment.selection_set)) == 1, fragment.name.value
    assert len(entry.analysis.fragments) == len(fragments)


ENGINE = [
    ROOT / "schema" / name
    for name in (
        "engine/operation_limits.py",
        "engine/query_cost.py",
        "engine/compiled.py",
        "engine/execution.py",
        "engine/collect.py",
        "policy/enforce.py",
    )
]


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_analysis_reads_selection_sets(path: Path) -> None:
    """The limits, the policy, the price, the plan: none reads a selection set, a fragment
    definition, or graphql-core's field collection; they read the analysis."""
    tree = ast.parse(path.read_text())
    reads = [
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("selection_set", "selections")
    ]
    imports = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name in ("collect_fields", "collect_subfields", "visit", "Visitor")
    ]
    assert (reads, imports) == ([], [])
