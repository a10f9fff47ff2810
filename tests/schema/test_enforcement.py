"""Enforcement before execution, and the slice of the graph a key can introspect."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from graphql import graphql_sync, parse, validate

from schema.api import Query, build_internal_schema
from schema.engine.analysis import analyse
from schema.policy import enforce
from schema.policy.enforce import MISSING_SCOPE, NOT_EXPOSED, check_operation
from schema.policy.model import load_policy
from schema.policy.slice import SchemaSlices
from tests.schema.test_operation_limits import count_calls, selections_in
from tests.server.documents import EXAMPLE_QUERY

POLICY_PATH = Path(__file__).resolve().parents[2] / "policies" / "business-api.toml"
DOCS = "https://docs.example.test/business-api/errors#forbidden"
ALL_SCOPES = frozenset(
    {
        "business:read",
        "participants:read",
        "participants.email:read",
        "registrations:read",
        "purchases:read",
    }
)
WITHOUT_EMAIL = ALL_SCOPES - {"participants.email:read"}

PAGED_QUERY = """
query {
  activeBusiness {
    participants(first: 2, after: "x") {
      pageInfo { hasNextPage endCursor }
      nodes { id }
    }
  }
}
"""

HIDDEN_FIELD = "{ activeBusiness { participants { nodes { phone } } } }"

ALIASED_HIDDEN_FIELD = "{ activeBusiness { participants { nodes { mobile: phone } } } }"

HIDDEN_IN_NAMED_FRAGMENT = """
query {
  activeBusiness { participants { nodes { ...Person } } }
}
fragment Person on BusinessParticipant { id phone }
"""

HIDDEN_IN_INLINE_FRAGMENT = """
query {
  activeBusiness { participants { nodes { ... on BusinessParticipant { id phone } } } }
}
"""

HIDDEN_IN_UNTYPED_INLINE_FRAGMENT = """
query {
  activeBusiness { ... { apiKeys { keyId } } }
}
"""

FRAGMENT_CYCLE = """
query {
  activeBusiness { participants { nodes { ...A } } }
}
fragment A on BusinessParticipant { id ...B }
fragment B on BusinessParticipant { name ...A }
"""

FRAGMENT_CYCLE_WITH_HIDDEN_FIELD = """
query {
  activeBusiness { participants { nodes { ...A } } }
}
fragment A on BusinessParticipant { id ...B }
fragment B on BusinessParticipant { phone ...A }
"""

EMAIL_QUERY = "{ activeBusiness { participants { nodes { id email } } } }"

CONSENT_QUERY = "{ activeBusiness { participants { nodes { emailMarketingConsent { status } } } } }"

EDGES_QUERY = "{ activeBusiness { participants { edges { node { id } } } } }"

OTHER_BUSINESSES = "{ businesses { id } }"

NODE_LOOKUP = '{ node(id: "gid://Sessions/Business/biz_1") { __typename } }'

MUTATION = """
mutation {
  createApiKey(businessId: "gid://Sessions/Business/biz_1", name: "k", scopes: []) { key }
}
"""

TYPENAME_QUERY = "{ __typename activeBusiness { __typename id } }"

INTROSPECTION_QUERY = "{ __schema { types { name } } }"

TYPE_INTROSPECTION_QUERY = '{ __type(name: "BusinessParticipant") { fields { name } } }'

TWO_HIDDEN_FIELDS = """
query {
  activeBusiness {
    handle
    participants { nodes { phone sources } }
  }
}
"""

SAME_FIELD_TWICE = """
query {
  activeBusiness { participants { nodes { phone ...Phone } } }
}
fragment Phone on BusinessParticipant { phone }
"""


@pytest.fixture(scope="module")
def graph():
    return build_internal_schema()._schema


@pytest.fixture(scope="module")
def policy():
    return load_policy(POLICY_PATH)


@pytest.fixture
def check(graph, policy):
    def run(document: str, granted: frozenset[str] = ALL_SCOPES):
        return check_operation(analyse(parse(document), graph), policy, granted, DOCS)

    return run


def test_the_business_api_example_query_is_allowed_with_all_five_scopes(check):
    assert check(EXAMPLE_QUERY) == []


def test_paging_through_participants_is_allowed(check):
    assert check(PAGED_QUERY, frozenset({"business:read", "participants:read"})) == []


def test_a_hidden_field_is_one_forbidden_error_at_its_response_path(check):
    [error] = check(HIDDEN_FIELD)
    assert error.extensions["code"] == "FORBIDDEN"
    assert error.extensions["reason"] == NOT_EXPOSED == "NOT_EXPOSED"
    assert error.extensions["requiredScope"] is None
    assert error.path == ["activeBusiness", "participants", "nodes", "phone"]
    assert "BusinessParticipant.phone" in error.message


def test_a_forbidden_error_points_at_the_field_in_the_document(check):
    [error] = check(HIDDEN_FIELD)
    [location] = error.locations
    assert (location.line, location.column) == (1, HIDDEN_FIELD.index("phone") + 1)


def test_an_aliased_hidden_field_is_reported_at_its_alias(check):
    [error] = check(ALIASED_HIDDEN_FIELD)
    assert error.extensions["reason"] == NOT_EXPOSED
    assert error.path == ["activeBusiness", "participants", "nodes", "mobile"]


def test_a_hidden_field_in_a_named_fragment_is_reported_where_the_fragment_is_spread(check):
    [error] = check(HIDDEN_IN_NAMED_FRAGMENT)
    assert error.extensions["reason"] == NOT_EXPOSED
    assert error.path == ["activeBusiness", "participants", "nodes", "phone"]


def test_a_hidden_field_in_an_inline_fragment_is_reported_at_its_response_path(check):
    [error] = check(HIDDEN_IN_INLINE_FRAGMENT)
    assert error.extensions["reason"] == NOT_EXPOSED
    assert error.path == ["activeBusiness", "participants", "nodes", "phone"]


def test_an_inline_fragment_without_a_type_condition_is_checked_against_its_parent(check):
    [error] = check(HIDDEN_IN_UNTYPED_INLINE_FRAGMENT)
    assert error.path == ["activeBusiness", "apiKeys"]
    assert "Business.apiKeys" in error.message


def test_a_fragment_cycle_is_skipped_instead_of_hanging(check):
    result: list = []
    walker = threading.Thread(target=lambda: result.append(check(FRAGMENT_CYCLE)), daemon=True)
    walker.start()
    walker.join(timeout=5)
    assert not walker.is_alive(), "the walk did not finish"
    assert result == [[]]


def test_a_hidden_field_inside_a_fragment_cycle_is_still_refused(check):
    errors = check(FRAGMENT_CYCLE_WITH_HIDDEN_FIELD)
    assert [e.path for e in errors] == [["activeBusiness", "participants", "nodes", "phone"]]


def test_a_field_whose_scope_the_key_lacks_names_the_missing_scope(check):
    [error] = check(EMAIL_QUERY, WITHOUT_EMAIL)
    assert error.extensions["code"] == "FORBIDDEN"
    assert error.extensions["reason"] == MISSING_SCOPE == "MISSING_SCOPE"
    assert error.extensions["requiredScope"] == "participants.email:read"
    assert error.path == ["activeBusiness", "participants", "nodes", "email"]
    assert "participants.email:read" in error.message


def test_the_same_field_is_allowed_once_its_scope_is_granted(check):
    assert check(EMAIL_QUERY) == []


def test_a_field_without_its_scope_is_refused_without_looking_inside_it(check):
    errors = check(CONSENT_QUERY, WITHOUT_EMAIL)
    assert [e.path for e in errors] == [
        ["activeBusiness", "participants", "nodes", "emailMarketingConsent"]
    ]


def test_a_key_without_business_read_is_refused_at_the_root(check):
    [error] = check(EMAIL_QUERY, frozenset({"participants:read", "participants.email:read"}))
    assert error.path == ["activeBusiness"]
    assert error.extensions["requiredScope"] == "business:read"


def test_connection_edges_are_not_exposed(check):
    [error] = check(EDGES_QUERY)
    assert error.path == ["activeBusiness", "participants", "edges"]
    assert error.extensions["reason"] == NOT_EXPOSED


@pytest.mark.parametrize("document", [OTHER_BUSINESSES, NODE_LOOKUP])
def test_root_fields_outside_the_policy_are_refused(check, document):
    [error] = check(document)
    assert error.extensions["reason"] == NOT_EXPOSED
    assert len(error.path) == 1


def test_a_mutation_is_forbidden(check):
    [error] = check(MUTATION)
    assert error.extensions["code"] == "FORBIDDEN"
    assert error.extensions["reason"] == NOT_EXPOSED
    assert error.path is None
    assert "read-only" in error.message


@pytest.mark.parametrize(
    "document", [TYPENAME_QUERY, INTROSPECTION_QUERY, TYPE_INTROSPECTION_QUERY]
)
def test_typename_and_introspection_are_allowed(check, document):
    assert check(document) == []


def test_every_refused_field_is_reported_in_document_order(check):
    errors = check(TWO_HIDDEN_FIELDS)
    assert [e.path for e in errors] == [
        ["activeBusiness", "handle"],
        ["activeBusiness", "participants", "nodes", "phone"],
        ["activeBusiness", "participants", "nodes", "sources"],
    ]


def test_a_field_refused_twice_at_the_same_path_is_reported_once(check):
    errors = check(SAME_FIELD_TWICE)
    assert [e.path for e in errors] == [["activeBusiness", "participants", "nodes", "phone"]]


@pytest.mark.parametrize(
    ("document", "granted"),
    [
        (HIDDEN_FIELD, ALL_SCOPES),
        (EMAIL_QUERY, WITHOUT_EMAIL),
        (MUTATION, ALL_SCOPES),
        (TWO_HIDDEN_FIELDS, ALL_SCOPES),
    ],
)
def test_every_error_carries_the_forbidden_code_and_the_documentation_url(check, document, granted):
    errors = check(document, granted)
    assert errors
    for error in errors:
        assert error.extensions["code"] == "FORBIDDEN"
        assert error.extensions["documentation"] == DOCS


# The slice of the graph a key can see: introspection and suggestions come from it.

PARTICIPANT_FIELDS = '{ __type(name: "BusinessParticipant") { fields { name } } }'

MISTYPED_FIELD = "{ activeBusiness { participants { nodes { phon } } } }"

READ_ONLY_SCOPES = frozenset({"business:read", "participants:read"})


@pytest.fixture(scope="module")
def slices(policy):
    return SchemaSlices(policy, Query)


def introspected_fields(sliced, type_name: str = "BusinessParticipant") -> list[str] | None:
    document = PARTICIPANT_FIELDS.replace("BusinessParticipant", type_name)
    result = graphql_sync(sliced._schema, document)
    assert result.errors is None
    found = result.data["__type"]
    return None if found is None else [field["name"] for field in found["fields"]]


def test_the_slice_shows_email_only_when_its_scope_is_granted(slices):
    assert "email" in slices.for_scopes(ALL_SCOPES).as_str()
    assert "email" not in slices.for_scopes(WITHOUT_EMAIL).as_str()


@pytest.mark.parametrize("scopes", [ALL_SCOPES, WITHOUT_EMAIL, READ_ONLY_SCOPES])
@pytest.mark.parametrize(
    "hidden", ["phone", "apiKeys", "Mutation", "edges", "handle", "businesses"]
)
def test_the_slice_never_shows_what_the_policy_hides(slices, scopes, hidden):
    assert hidden not in slices.for_scopes(scopes).as_str()


def test_introspection_on_the_slice_lists_exactly_the_exposed_fields(slices, policy):
    everything = introspected_fields(slices.for_scopes(ALL_SCOPES))
    exposed = [f for (t, f) in policy.fields if t == "BusinessParticipant"]
    assert sorted(everything) == sorted(exposed)
    assert sorted(introspected_fields(slices.for_scopes(READ_ONLY_SCOPES))) == ["id", "name"]


def test_introspection_on_the_slice_does_not_find_types_no_kept_field_reaches(slices):
    sliced = slices.for_scopes(READ_ONLY_SCOPES)
    assert introspected_fields(sliced, "ProviderConnection") is None
    assert introspected_fields(sliced, "ProductPurchase") is None


def test_a_mistyped_field_is_not_answered_with_a_hidden_suggestion(slices, graph):
    document = parse(MISTYPED_FIELD)
    [internal] = validate(graph, document)
    assert "phone" in internal.message  # the full graph would suggest it
    [error] = validate(slices.for_scopes(ALL_SCOPES)._schema, document)
    assert "phon" in error.message
    assert "phone" not in error.message


def test_unknown_scopes_do_not_make_another_slice(slices):
    sliced = slices.for_scopes(READ_ONLY_SCOPES)
    assert slices.for_scopes(READ_ONLY_SCOPES | {"admin:write"}) is sliced


@pytest.mark.parametrize("levels", [40, 80])
def test_the_walk_is_linear_however_fragments_multiply(graph, policy, monkeypatch, levels):
    # 4**levels spreads of a fragment with a hidden field: walked once, reported once. The
    # walk's visits (selection sets, fields, spreads) are counted, not timed, and capped at
    # twice the document's size: a walk that expands is stopped with a failure at once.
    fragments = " ".join(
        f"fragment F{i} on BusinessParticipant {{ {' '.join([f'...F{i + 1}'] * 4)} }}"
        for i in range(levels)
    )
    document = parse(
        "query { activeBusiness { participants { nodes { ...F0 } } } } "
        + fragments
        + f" fragment F{levels} on BusinessParticipant {{ id phone }}"
    )
    size = selections_in(document)
    assert size == 4 * levels + 6
    analysed = analyse(document, graph)
    visits = count_calls(
        monkeypatch, enforce._Verdict, ["selection", "field", "fragment"], budget=2 * size
    )
    errors = check_operation(analysed, policy, ALL_SCOPES, DOCS)
    assert [e.path for e in errors] == [["activeBusiness", "participants", "nodes", "phone"]]
    # Every spread is met once where it is written (4 a level, 1 in the operation), but each
    # fragment's selection is read once (levels + 1, besides the operation's four) and its
    # fields only there (the operation's three, F{levels}'s two): linear in the levels.
    assert visits == {"fragment": 4 * levels + 1, "selection": levels + 5, "field": 5}


def test_a_fragment_spread_in_two_places_is_reported_at_both(check):
    document = """query { activeBusiness {
      a: participants { nodes { ...Person } } b: participants { nodes { ...Person } }
    } } fragment Person on BusinessParticipant { phone }"""
    paths = [e.path for e in check(document)]
    assert paths == [
        ["activeBusiness", "a", "nodes", "phone"],
        ["activeBusiness", "b", "nodes", "phone"],
    ]
