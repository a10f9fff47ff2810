"""The policy file's `[cost]` table: loaded with the policy, and every mistake a start-up
error naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema

from schema.api import build_internal_schema
from schema.policy.model import PolicyError, load_policy, parse_policy, validate_policy

POLICY_PATH = Path(__file__).resolve().parents[2] / "policies" / "business-api.toml"
SOURCE = "test-policy.toml"

POLICY = """\
[scopes]
"business:read" = "Read the business."

[expose.Query]
activeBusiness = "business:read"

[expose.Business]
id = "business:read"
"""


@pytest.fixture(scope="module")
def graph() -> GraphQLSchema:
    return build_internal_schema()._schema


def at(text: str, line: str) -> str:
    """`<source>:<line>:` for the only line of `text` equal to `line`."""
    lines = text.splitlines()
    assert lines.count(line) == 1, line
    return f"{SOURCE}:{lines.index(line) + 1}:"


def refusal(text: str, graph: GraphQLSchema) -> str:
    with pytest.raises(PolicyError) as raised:
        validate_policy(parse_policy(text, source=SOURCE), graph)
    return str(raised.value)


def test_the_committed_policy_prices_page_info_at_nothing(graph: GraphQLSchema) -> None:
    policy = load_policy(POLICY_PATH)
    validate_policy(policy, graph)
    assert (policy.cost.object, policy.cost.connection) == (1, 2)
    assert policy.cost.types == {"PageInfo": 0}
    assert policy.cost.of_object("PageInfo") == 0
    assert policy.cost.of_object("BusinessParticipant") == 1


def test_a_policy_without_a_cost_table_uses_shopifys_numbers(graph: GraphQLSchema) -> None:
    policy = parse_policy(POLICY, source=SOURCE)
    validate_policy(policy, graph)
    assert (policy.cost.object, policy.cost.connection, dict(policy.cost.types)) == (1, 2, {})


def test_the_table_is_read_with_its_type_and_field_overrides(graph: GraphQLSchema) -> None:
    text = POLICY + (
        "\n[cost]\nobject = 3\nconnection = 4\n\n[cost.types]\nBusiness = 5\n"
        "\n[cost.fields.BusinessParticipant]\nemail = 2\n"
    )
    policy = parse_policy(text, source=SOURCE)
    validate_policy(policy, graph)
    assert (policy.cost.object, policy.cost.connection) == (3, 4)
    assert policy.cost.of_object("Business") == 5
    assert policy.cost.of_field("BusinessParticipant", "email") == 2
    assert policy.cost.of_field("BusinessParticipant", "name") is None


@pytest.mark.parametrize(
    ("table", "line", "says"),
    [
        ("[cost]\nobject = -1\n", "object = -1", "`object` must be a whole number of points"),
        ('[cost]\nconnection = "2"\n', 'connection = "2"', "`connection` must be a whole number"),
        ("[cost]\nobject = true\n", "object = true", "`object` must be a whole number"),
        ("[cost]\ncolour = 1\n", "colour = 1", "unknown key `cost.colour`"),
        ("[cost.types]\nPageInfo = 0.5\n", "PageInfo = 0.5", "`PageInfo` must be a whole number"),
        ("[cost.types]\nStudio = 1\n", "Studio = 1", "the schema has no object type `Studio`"),
        (
            "[cost.fields.Business]\nphone = 1\n",
            "phone = 1",
            "the schema has no field `Business.phone`",
        ),
        (
            "[cost.fields.Business]\nname = -2\n",
            "name = -2",
            "`Business.name` must be a whole number",
        ),
    ],
)
def test_a_broken_cost_table_is_a_start_up_error_naming_its_line(
    graph: GraphQLSchema, table: str, line: str, says: str
) -> None:
    text = POLICY + "\n" + table
    message = refusal(text, graph)
    assert message.startswith(at(text, line)), message
    assert says in message


def test_a_cost_that_is_not_a_table_names_its_line(graph: GraphQLSchema) -> None:
    text = "cost = 3\n" + POLICY
    message = refusal(text, graph)
    assert message.startswith(at(text, "cost = 3")) and "`cost` must be a table" in message
