"""GraphQL documents shared by the server tests."""

EXAMPLE_QUERY = """
query {
  activeBusiness {
    id
    name
    participants(first: 25) {
      nodes {
        id
        name
        email
        emailMarketingConsent { status at }
        registrations(first: 10) {
          nodes { id status confirmedAt activitySession { id } }
        }
        productPurchases(first: 10) {
          nodes { id status pricePaid purchasedAt product { id } }
        }
      }
    }
  }
}
"""

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
