"""GraphQL documents shared by the server tests."""

from schema.example import EXAMPLE_QUERY  # noqa: F401 (shared with the tests)

PARTICIPANT_PAGE = """
query Page($after: String) {
  activeBusiness {
    participants(first: 25, after: $after) {
      nodes { id name }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
