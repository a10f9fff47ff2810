"""The policy file: parsing, line numbers in messages, and validation against the graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from schema.api import build_internal_schema
from schema.policy.model import PolicyError, load_policy, parse_policy, validate_policy

POLICY_PATH = Path(__file__).resolve().parents[2] / "policies" / "business-api.toml"
SOURCE = "test-policy.toml"

SCOPES = """\
# A small policy for tests.
[scopes]
"business:read" = "Read the business."
"participants:read" = "Read participants."
"""

MINIMAL = (
    SCOPES
    + """
[expose.Query]
activeBusiness = "business:read"

[expose.Business]
id = "business:read"
"""
)


@pytest.fixture(scope="module")
def graph():
    return build_internal_schema()._schema


def line_of(text: str, line: str) -> int:
    """The 1-based number of the only line of `text` equal to `line`."""
    lines = text.splitlines()
    assert lines.count(line) == 1, line
    return lines.index(line) + 1


def at(text: str, line: str) -> str:
    """`<source>:<line>:` as the messages start, for the only line of `text` equal to `line`."""
    return f"{SOURCE}:{line_of(text, line)}:"


def refusal(text: str, graph) -> str:
    with pytest.raises(PolicyError) as raised:
        validate_policy(parse_policy(text, source=SOURCE), graph)
    return str(raised.value)


def test_the_committed_policy_validates_against_the_internal_graph(graph):
    policy = load_policy(POLICY_PATH)
    validate_policy(policy, graph)
    assert policy.source == str(POLICY_PATH)
    assert list(policy.scopes) == [
        "business:read",
        "participants:read",
        "participants.email:read",
        "registrations:read",
        "purchases:read",
    ]


def test_the_committed_policy_names_the_scope_each_field_needs():
    policy = load_policy(POLICY_PATH)
    assert policy.scope_for("Query", "activeBusiness") == "business:read"
    assert policy.scope_for("BusinessParticipant", "email") == "participants.email:read"
    assert policy.scope_for("ProductPurchase", "pricePaid") == "purchases:read"


def test_a_field_the_policy_does_not_list_has_no_scope():
    policy = load_policy(POLICY_PATH)
    assert policy.scope_for("BusinessParticipant", "phone") is None
    assert policy.scope_for("Business", "apiKeys") is None
    assert policy.scope_for("Mutation", "createApiKey") is None
    assert policy.scope_for("BusinessParticipantConnection", "edges") is None


def test_a_minimal_policy_validates_and_keeps_file_order(graph):
    policy = parse_policy(MINIMAL, source=SOURCE)
    validate_policy(policy, graph)
    assert policy.fields == {
        ("Query", "activeBusiness"): "business:read",
        ("Business", "id"): "business:read",
    }
    assert policy.exposed_types() == ["Query", "Business"]
    assert f"{policy.where('expose.Business', 'id')}:" == at(MINIMAL, 'id = "business:read"')


def test_a_type_the_schema_lacks_is_a_start_up_error_naming_its_line(graph):
    text = MINIMAL + '\n[expose.Studio]\nname = "business:read"\n'
    message = refusal(text, graph)
    assert at(text, 'name = "business:read"') in message
    assert "no object type `Studio`" in message


def test_a_field_the_schema_lacks_is_a_start_up_error_naming_its_line(graph):
    text = MINIMAL + 'nickname = "business:read"\n'
    message = refusal(text, graph)
    assert at(text, 'nickname = "business:read"') in message
    assert "no field `Business.nickname`" in message


def test_an_undeclared_scope_is_a_start_up_error_naming_its_line(graph):
    text = MINIMAL + 'name = "business:write"\n'
    message = refusal(text, graph)
    assert at(text, 'name = "business:write"') in message
    assert "undeclared scope `business:write`" in message


def test_an_exposed_mutation_is_a_start_up_error_naming_its_line(graph):
    text = MINIMAL + '\n[expose.Mutation]\ncreateApiKey = "business:read"\n'
    message = refusal(text, graph)
    assert at(text, 'createApiKey = "business:read"') in message
    assert "mutations and subscriptions cannot be exposed" in message


def test_a_field_whose_type_exposes_nothing_is_a_start_up_error_naming_its_line(graph):
    text = MINIMAL + 'connections = "business:read"\n'
    message = refusal(text, graph)
    assert at(text, 'connections = "business:read"') in message
    assert "returns `ProviderConnection`, which exposes no field" in message


def test_a_field_whose_type_is_exposed_too_validates(graph):
    text = (
        MINIMAL
        + 'participants = "business:read"\n'
        + '\n[expose.BusinessParticipantConnection]\npageInfo = "business:read"\n'
        + '\n[expose.PageInfo]\nhasNextPage = "business:read"\n'
    )
    validate_policy(parse_policy(text, source=SOURCE), graph)


def test_a_list_whose_length_is_unknown_cannot_be_exposed(graph):
    # Its cost could not be known before it runs (see the `[cost]` table).
    text = (
        MINIMAL
        + 'connections = "business:read"\n'
        + '\n[expose.ProviderConnection]\nid = "business:read"\n'
    )
    message = refusal(text, graph)
    assert at(text, 'connections = "business:read"') in message
    assert "`Business.connections` is a list of objects outside a connection" in message


def test_the_offending_line_is_found_under_its_own_table_not_an_earlier_one(graph):
    # `id` also appears under [expose.Business]; the error is the later [expose.Studio] one.
    text = MINIMAL + '\n[expose.Studio]\nid = "business:read"\n'
    lines = text.splitlines()
    studio_id = len(lines) - lines[::-1].index('id = "business:read"')
    message = refusal(text, graph)
    assert message.startswith(f"{SOURCE}:{studio_id}:")


def test_a_policy_exposing_nothing_of_query_is_refused(graph):
    text = SCOPES + '\n[expose.Business]\nid = "business:read"\n'
    message = refusal(text, graph)
    assert "exposes no field of `Query`" in message


def test_invalid_toml_is_a_policy_error_naming_the_source():
    with pytest.raises(PolicyError, match=rf"^{SOURCE}: not valid TOML"):
        parse_policy(MINIMAL + "activeBusiness = \n", source=SOURCE)


def test_an_unknown_top_level_table_is_a_policy_error_naming_its_line():
    text = MINIMAL + '\n[extras]\nanything = "x"\n'
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, source=SOURCE)
    assert str(raised.value) == at(text, "[extras]") + " unknown table or key `extras`"


def test_a_misspelt_expose_table_is_a_policy_error_naming_its_line():
    text = SCOPES + '\n[exposed.Query]\nactiveBusiness = "business:read"\n'
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, source=SOURCE)
    assert str(raised.value) == (at(text, "[exposed.Query]") + " unknown table or key `exposed`")


def test_a_policy_without_scopes_is_refused():
    with pytest.raises(PolicyError, match="`\\[scopes\\]` must map each scope"):
        parse_policy('[expose.Query]\nactiveBusiness = "business:read"\n', source=SOURCE)


def test_a_field_mapped_to_something_other_than_a_scope_name_is_refused():
    text = MINIMAL + "name = 3\n"
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, source=SOURCE)
    assert str(raised.value).startswith(at(text, "name = 3"))
    assert "`Business.name` must name a scope" in str(raised.value)


CHAIN = (
    'implicit = ["business:read"]\n\n'
    + SCOPES
    + '"participants.email:read" = "Read emails."\n'
    + """
[requires]
"participants.email:read" = ["participants:read"]
"""
    + MINIMAL.removeprefix(SCOPES)
)


def test_the_committed_policy_declares_the_implicit_scope_and_each_prerequisite():
    policy = load_policy(POLICY_PATH)
    assert policy.implicit == ("business:read",)
    assert policy.prerequisites("participants:read") == []
    for scope in ("participants.email:read", "registrations:read", "purchases:read"):
        assert policy.prerequisites(scope) == ["participants:read"]


def test_prerequisites_are_followed_through_other_scopes():
    text = CHAIN.replace(
        '[requires]\n"participants.email:read" = ["participants:read"]\n',
        '[requires]\n"participants.email:read" = ["participants:read"]\n'
        '"participants:read" = ["business:read"]\n',
    )
    text = text.replace('implicit = ["business:read"]\n\n', "")
    policy = parse_policy(text, source=SOURCE)
    assert policy.implicit == ()
    assert policy.prerequisites("participants.email:read") == ["business:read", "participants:read"]


def test_a_key_can_be_minted_only_with_sets_holding_each_scope_prerequisites():
    policy = parse_policy(CHAIN, source=SOURCE)
    assert policy.scope_sets() == [
        frozenset({"business:read"}),
        frozenset({"business:read", "participants:read"}),
        frozenset({"business:read", "participants:read", "participants.email:read"}),
    ]


@pytest.mark.parametrize(
    ("line", "replacement", "expected"),
    [
        (
            '"participants.email:read" = ["participants:read"]',
            '"participants.email:read" = ["participant:read"]',
            "`participants.email:read` needs undeclared scope `participant:read`",
        ),
        (
            '"participants.email:read" = ["participants:read"]',
            '"emails:read" = ["participants:read"]',
            "`[requires]` names undeclared scope `emails:read`",
        ),
        (
            '"participants.email:read" = ["participants:read"]',
            '"participants.email:read" = "participants:read"',
            "`participants.email:read` must list the scopes it needs",
        ),
        (
            '"participants.email:read" = ["participants:read"]',
            '"business:read" = ["participants:read"]',
            "`business:read` is implicit: every key has it, so it needs nothing",
        ),
        (
            'implicit = ["business:read"]',
            'implicit = ["business:write"]',
            "`implicit` names undeclared scope `business:write`",
        ),
        (
            'implicit = ["business:read"]',
            'implicit = "business:read"',
            "`implicit` must list scopes",
        ),
    ],
)
def test_a_wrong_prerequisite_or_implicit_scope_is_a_policy_error_naming_its_line(
    line: str, replacement: str, expected: str
):
    assert line in CHAIN
    text = CHAIN.replace(line, replacement)
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, source=SOURCE)
    assert str(raised.value) == f"{at(text, replacement)} {expected}"


def test_prerequisites_going_round_in_a_circle_are_a_policy_error_naming_the_line():
    text = CHAIN.replace(
        '"participants.email:read" = ["participants:read"]\n',
        '"participants.email:read" = ["participants:read"]\n'
        '"participants:read" = ["participants.email:read"]\n',
    )
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, source=SOURCE)
    assert str(raised.value) == (
        at(text, '"participants.email:read" = ["participants:read"]')
        + " prerequisites go round in a circle: `participants.email:read` → "
        "`participants:read` → `participants.email:read`"
    )


def test_a_scope_that_needs_itself_is_a_circle_too():
    text = CHAIN.replace(
        '"participants.email:read" = ["participants:read"]',
        '"participants.email:read" = ["participants.email:read"]',
    )
    with pytest.raises(PolicyError, match="circle: `participants.email:read` → `partic"):
        parse_policy(text, source=SOURCE)


def test_a_policy_that_forgets_a_prerequisite_is_refused_at_the_field_it_cannot_reach(graph):
    committed = POLICY_PATH.read_text(encoding="utf-8")
    text = committed.replace('"registrations:read" = ["participants:read"]\n', "")
    assert text != committed
    where = at(text, 'registrations = "registrations:read"')
    message = refusal(text, graph)
    assert message == (
        f"{where} a key with `registrations:read` "
        "cannot reach `BusinessParticipant.registrations`: `BusinessParticipant` is reached "
        "through `Query.activeBusiness` → `Business.participants` → "
        "`BusinessParticipantConnection.nodes`, which needs `participants:read`; declare it "
        'under `[requires]`: "registrations:read" = ["participants:read"]'
    )


def test_the_implicit_scope_fields_need_no_prerequisite_wherever_they_are_reached(graph):
    # `PageInfo` (business:read) is reached only under lists, which need other scopes.
    policy = load_policy(POLICY_PATH)
    assert policy.scope_for("PageInfo", "endCursor") == "business:read"
    assert policy.requires.get("business:read") is None
    validate_policy(policy, graph)


def test_a_scope_needing_a_prerequisite_without_the_implicit_one_is_refused(graph):
    # Without `implicit`, `participants:read` must name `business:read`, its way in.
    text = (
        CHAIN.replace('implicit = ["business:read"]\n\n', "")
        + 'participants = "participants:read"\n'
    )
    text += '\n[expose.BusinessParticipantConnection]\nnodes = "participants:read"\n'
    text += '\n[expose.BusinessParticipant]\nid = "participants:read"\n'
    message = refusal(text, graph)
    assert message.startswith(at(text, 'participants = "participants:read"'))
    assert message.endswith('"participants:read" = ["business:read"]')


def test_an_exposed_field_no_exposed_field_leads_to_is_refused(graph):
    text = MINIMAL + '\n[expose.ApiKey]\nname = "business:read"\n'
    where = at(text, 'name = "business:read"')
    message = refusal(text, graph)
    assert message == (f"{where} `ApiKey.name` is exposed, but no exposed field leads to `ApiKey`")
