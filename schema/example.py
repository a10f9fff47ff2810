"""The Business API document's example query, word for word: what the reference prices,
what the default cost limit is a multiple of, and what the tests and the benchmark ask."""

EXAMPLE_QUERY = """\
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
