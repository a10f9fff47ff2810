"""Prices from the document: Shopify's rules over the key's slice, fields merged as
execution merges them, `first` from the arguments, the variables or the schema's default,
and linear time however the fragments multiply. Then the actual cost over answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema, parse
from graphql.execution.executor import Executor as GraphQLExecutor

from schema.api import Query
from schema.engine import compiled, query_cost
from schema.engine.analysis import analyse
from schema.engine.collect import Collector
from schema.engine.query_cost import Price, price, price_key
from schema.policy import SchemaSlices, load_policy
from schema.policy.cost_table import CostTable, CostTableError, check_cost_table
from schema.policy.reference import build_reference, render_markdown
from tests.schema.test_operation_limits import count_calls, fan_out, selections_in
from tests.server.documents import EXAMPLE_QUERY

POLICY_PATH = Path(__file__).resolve().parents[2] / "policies" / "business-api.toml"


@pytest.fixture(scope="module")
def slices() -> SchemaSlices:
    return SchemaSlices(load_policy(POLICY_PATH), Query)


def priced(
    slices: SchemaSlices,
    query: str,
    variables: dict[str, Any] | None = None,
    table: CostTable | None = None,
) -> Price:
    schema = slices.for_scopes(frozenset(slices.policy.scopes))
    document = parse(query)
    built = compiled.build(schema, document, variables, None)
    assert not isinstance(built, list), built
    analysed = analyse(document, schema._schema)
    return price(schema._schema, table or slices.policy.cost, analysed, built, explain=True)


def cost(slices: SchemaSlices, query: str, variables: dict[str, Any] | None = None) -> int:
    return priced(slices, query, variables).requested


def test_the_documents_example_query_costs_1153(slices: SchemaSlices) -> None:
    # activeBusiness 1 + participants (2 + 25 × (participant 1 + consent 1
    #   + registrations (2 + 10 × (1 + activitySession 1))
    #   + productPurchases (2 + 10 × (1 + product 1))))
    assert cost(slices, EXAMPLE_QUERY) == 1 + 2 + 25 * (1 + 1 + (2 + 10 * 2) + (2 + 10 * 2))
    assert cost(slices, EXAMPLE_QUERY) == 1153


def test_objects_cost_one_scalars_nothing_and_page_info_nothing(slices: SchemaSlices) -> None:
    assert cost(slices, "{ activeBusiness { id name } }") == 1
    assert cost(slices, "{ __typename activeBusiness { __typename } }") == 1
    page_info = "{ activeBusiness { participants(first: 3) { pageInfo { hasNextPage } } } }"
    assert cost(slices, page_info) == 1 + 2


def test_first_defaults_to_the_schemas_default(slices: SchemaSlices) -> None:
    assert cost(slices, "{ activeBusiness { participants { nodes { id } } } }") == 1 + 2 + 25


def test_first_is_read_from_the_variables(slices: SchemaSlices) -> None:
    query = "query($n: Int) { activeBusiness { participants(first: $n) { nodes { id } } } }"
    assert cost(slices, query, {"n": 7}) == 1 + 2 + 7
    assert cost(slices, query, {}) == 1 + 2 + 25  # absent: the argument's default
    assert cost(slices, query, {"n": None}) == 1 + 2  # null: refused when it runs, reads nothing
    with_default = query.replace("$n: Int", "$n: Int = 4")
    assert cost(slices, with_default, {}) == 1 + 2 + 4


def test_fields_merged_by_fragments_are_priced_once(slices: SchemaSlices) -> None:
    query = """{ activeBusiness { ...A ...B participants(first: 2) { nodes { name } } } }
      fragment A on Business { participants(first: 2) { nodes { id } } }
      fragment B on Business { ... on Business { participants(first: 2) { nodes { id } } } }"""
    assert cost(slices, query) == 1 + 2 + 2


def test_sub_selections_of_merged_fields_are_merged_too(slices: SchemaSlices) -> None:
    query = """{ activeBusiness { participants(first: 2) {
        nodes { registrations(first: 3) { nodes { id } } }
        nodes { registrations(first: 3) { nodes { status } }
                productPurchases(first: 1) { nodes { id } } }
      } } }"""
    assert cost(slices, query) == 1 + 2 + 2 * (1 + (2 + 3) + (2 + 1))


def test_aliases_cost_separately(slices: SchemaSlices) -> None:
    query = """{ activeBusiness {
        a: participants(first: 5) { nodes { id } }
        b: participants(first: 5) { nodes { id } } } }"""
    assert cost(slices, query) == 1 + 2 * (2 + 5)


def test_skip_and_include_are_resolved_from_the_variables(slices: SchemaSlices) -> None:
    query = """query($skip: Boolean!, $with: Boolean!) { activeBusiness {
        participants(first: 10) @skip(if: $skip) { nodes { id } }
        ... on Business @include(if: $with) { more: participants(first: 3) { nodes { id } } } } }"""
    assert cost(slices, query, {"skip": False, "with": True}) == 1 + (2 + 10) + (2 + 3)
    assert cost(slices, query, {"skip": True, "with": True}) == 1 + (2 + 3)
    assert cost(slices, query, {"skip": True, "with": False}) == 1


def test_the_price_key_holds_only_what_the_price_reads(slices: SchemaSlices) -> None:
    query = """query Page($n: Int, $after: String, $s: Boolean!) { activeBusiness {
        participants(first: $n, after: $after) @skip(if: $s) { nodes { id } } } }"""
    schema = slices.for_scopes(frozenset(slices.policy.scopes))
    document = parse(query)

    def key(variables: dict[str, Any]) -> Any:
        built = compiled.build(schema, document, variables, None)
        assert not isinstance(built, list)
        return price_key(analyse(document, schema._schema), built)

    assert key({"n": 5, "s": False}) == key({"n": 5, "s": False, "after": "abc"})
    assert key({"n": 5, "s": False}) != key({"n": 6, "s": False})
    assert key({"n": 5, "s": False}) != key({"n": 5, "s": True})
    assert key({"s": False}) != key({"n": None, "s": False})


def count_pricing(monkeypatch: pytest.MonkeyPatch, budget: int) -> Callable[[], Counter[str]]:
    """What pricing does once per piece of work: collect a selection, price a merged field
    (each capped at `budget`); the counts so far, when called."""
    visits = count_calls(monkeypatch, Collector, ["_visit"], budget=budget)
    prices = count_calls(monkeypatch, query_cost._Pricing, ["_price"], budget=budget)
    return lambda: visits + prices


@pytest.mark.parametrize("levels", [50, 100])
def test_pricing_is_linear_however_fragments_multiply(
    slices: SchemaSlices, monkeypatch: pytest.MonkeyPatch, levels: int
) -> None:
    # 8**levels spreads once expanded; execution merges them all into one field. The work is
    # counted, not timed, and capped at the document's size: a walk that expands is stopped
    # with a failure at once instead of never ending.
    query = fan_out(levels, 8, leaf="participants(first: 4) { nodes { id } }")
    document = parse(query)
    schema = slices.for_scopes(frozenset(slices.policy.scopes))
    built = compiled.build(schema, document, None, None)
    assert not isinstance(built, list)
    size = selections_in(document)
    analysed = analyse(document, schema._schema)
    steps = count_pricing(monkeypatch, budget=size)
    found = price(schema._schema, slices.policy.cost, analysed, built)
    assert found.requested == 1 + 2 + 4
    # Each fragment's selection set walked once, besides the operation's four; the four
    # merged fields priced once each: linear in the levels.
    assert steps() == {"_visit": levels + 5, "_price": 4}


RECURSIVE = build_schema("type Query { node: Node } type Node { id: ID next: Node }")


@pytest.mark.parametrize("levels", [30, 60])
def test_each_fragment_and_merged_field_is_priced_once_where_aliases_fan_out(
    monkeypatch: pytest.MonkeyPatch, levels: int
) -> None:
    # Each level selects the next one under two aliases: 2**levels objects at the bottom,
    # priced in a pass over the fragments (counted, and capped as above).
    fragments = " ".join(
        f"fragment F{i} on Node {{ a: next {{ ...F{i + 1} }} b: next {{ ...F{i + 1} }} }}"
        for i in range(levels)
    )
    query = f"{{ node {{ ...F0 }} }} {fragments} fragment F{levels} on Node {{ id }}"
    document = parse(query)
    built = GraphQLExecutor.build(RECURSIVE, document)
    assert not isinstance(built, list)
    size = selections_in(document)
    assert size == 4 * levels + 3
    analysed = analyse(document, RECURSIVE)
    steps = count_pricing(monkeypatch, budget=2 * size)
    found = price(RECURSIVE, CostTable(), analysed, built)
    assert found.requested == 2 ** (levels + 1) - 1  # 1 + 2 + 4 + … + 2**levels
    # Per level, each once: three selection sets walked (the fragment's, `a`'s and `b`'s) and
    # two fields priced (`a`, `b`): linear in the levels, where pricing each object that the
    # answer would hold takes 2**levels.
    assert steps() == {"_visit": 3 * levels + 3, "_price": 2 * levels + 2}


def test_the_reference_example_is_written_out_term_by_term(slices: SchemaSlices) -> None:
    explained = priced(slices, EXAMPLE_QUERY).explained
    assert explained == (
        "`activeBusiness` (1 + `participants` (2 + 25 × (1 + `emailMarketingConsent` 1 + "
        "`registrations` (2 + 10 × (1 + `activitySession` 1)) + "
        "`productPurchases` (2 + 10 × (1 + `product` 1)))))"
    )


def test_the_table_overrides_types_and_fields(slices: SchemaSlices) -> None:
    table = CostTable(
        object=2,
        connection=5,
        types={"PageInfo": 0, "ActivitySession": 0},
        fields={("BusinessParticipant", "email"): 3},
    )
    query = """{ activeBusiness { participants(first: 2) { pageInfo { endCursor }
        nodes { email registrations(first: 1) { nodes { activitySession { id } } } } } } }"""
    assert priced(slices, query, table=table).requested == 2 + 5 + 2 * (2 + 3 + (5 + 1 * 2))


# -- the actual cost, over answers


def page(participants: list[dict[str, Any]]) -> dict[str, Any]:
    return {"activeBusiness": {"id": "b", "participants": {"nodes": participants}}}


def test_the_actual_cost_counts_what_the_page_returned(slices: SchemaSlices) -> None:
    found = priced(slices, EXAMPLE_QUERY)
    one = {
        "id": "p",
        "emailMarketingConsent": {"status": "granted"},
        "registrations": {"nodes": [{"id": "r", "activitySession": {"id": "s"}}] * 3},
        "productPurchases": {"nodes": []},
    }
    without_consent = {**one, "emailMarketingConsent": None}
    assert found.actual(page([one])) == 1 + 2 + (1 + 1 + (2 + 3 * 2) + 2)
    assert found.actual(page([one, without_consent])) == 1 + 2 + 12 + 11
    assert found.actual({"activeBusiness": None}) == 0
    assert found.actual(None) == 0
    assert found.report(page([])) == {"requestedQueryCost": 1153, "actualQueryCost": 3}


# -- the table's own checks, on a tiny schema

TINY = build_schema("""
type Query { shop: Shop }
type Shop { items(first: Int = 10): ItemConnection! everything: [Item!]!
  some(first: Int): ItemConnection! unpaged: ItemConnection! }
type ItemConnection { nodes: [Item!]! }
type Item { id: ID! }
""")


def test_an_exposed_list_must_be_a_connection_with_a_default_first() -> None:
    def refusal(field_name: str) -> str:
        with pytest.raises(CostTableError) as raised:
            check_cost_table(CostTable(), TINY, [("Shop", field_name)], lambda t, k: "at")
        return str(raised.value)

    check_cost_table(
        CostTable(), TINY, [("Shop", "items"), ("ItemConnection", "nodes")], lambda t, k: "at"
    )
    assert "`Shop.everything` is a list of objects outside a connection" in refusal("everything")
    assert "`Shop.some` is a connection whose `first` has no default" in refusal("some")
    assert "`Shop.unpaged` returns a connection but takes no `first`" in refusal("unpaged")


# -- the reference


def test_the_reference_lists_each_fields_cost_and_prices_the_example(
    slices: SchemaSlices,
) -> None:
    public = slices.for_scopes(frozenset(slices.policy.scopes))
    reference = build_reference(slices.policy, public._schema, public.as_str())
    costs = {(t.name, f.name): f.cost for t in reference.types for f in t.fields}
    assert costs[("Query", "activeBusiness")] == "1"
    assert costs[("Business", "name")] == "0"
    assert costs[("Business", "participants")] == "2 + first × item (first = 25 by default)"
    assert costs[("BusinessParticipantConnection", "nodes")] == "1 each"
    assert costs[("BusinessParticipantConnection", "pageInfo")] == "0"
    assert costs[("BusinessParticipant", "emailMarketingConsent")] == "1"
    assert reference.cost is not None
    assert reference.cost.example.strip() == EXAMPLE_QUERY.strip()
    assert reference.cost.example_cost == 1153
    markdown = render_markdown(reference)
    assert "| 2 + first × item (first = 25 by default) |" in markdown
    assert "(2 + 10 × (1 + `product` 1))))) = **1153**" in markdown
    assert "by default 4612, four times this example" in markdown
