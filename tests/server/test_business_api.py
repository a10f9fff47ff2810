"""The Business API document's promises, over HTTP, against emulated Wix sites."""

from __future__ import annotations

import math
import re

from server.providers.wix.emulated.dataset import generate_dataset
from tests.server.conftest import ACME_CONTACTS, TREMBLE_CONTACTS, World, answered
from tests.server.documents import EXAMPLE_QUERY, PARTICIPANT_PAGE

DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_the_documents_example_query_returns_the_documents_shape(world: World) -> None:
    response = await world.query(EXAMPLE_QUERY)

    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    business = body["data"]["activeBusiness"]
    assert business["name"] == "Tremble Studios"
    assert re.fullmatch(r"gid://Sessions/Business/biz_[0-9a-f]{8}", business["id"])
    nodes = business["participants"]["nodes"]
    assert len(nodes) == 25
    assert all(n["id"].startswith("gid://Sessions/BusinessParticipant/p_") for n in nodes)
    assert all(n["name"] and "@" in n["email"] for n in nodes)
    consents = [n["emailMarketingConsent"] for n in nodes]
    assert {c["status"] for c in consents} <= {"granted", "denied", "pending", "unknown"}
    assert any(c["status"] == "granted" and DATETIME.match(c["at"]) for c in consents)
    registrations = [r for n in nodes for r in n["registrations"]["nodes"]]
    assert registrations, "the generated data has registrations"
    for registration in registrations:
        assert registration["id"].startswith("gid://Sessions/ActivityRegistration/reg_")
        assert registration["status"] in {
            "confirmed",
            "pending",
            "cancelled",
            "declined",
            "waitlisted",
        }
        assert registration["activitySession"]["id"].startswith("gid://Sessions/ActivitySession/s_")
        if registration["status"] == "confirmed":
            assert DATETIME.match(registration["confirmedAt"])
        else:
            assert registration["confirmedAt"] is None
    purchases = [p for n in nodes for p in n["productPurchases"]["nodes"]]
    assert purchases, "the generated data has purchases"
    for purchase in purchases:
        assert purchase["id"].startswith("gid://Sessions/ProductPurchase/pur_")
        assert purchase["product"]["id"].startswith("gid://Sessions/Product/prod_")
        assert re.fullmatch(r"\d+\.\d\d", purchase["pricePaid"])
        assert DATETIME.match(purchase["purchasedAt"])


async def test_ids_are_stable_across_requests(world: World) -> None:
    first = (await world.query(EXAMPLE_QUERY)).json()
    second = (await world.query(EXAMPLE_QUERY)).json()
    assert first == second


async def test_paging_participants_to_the_end_visits_every_participant_exactly_once(
    world: World,
) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = (await world.query(PARTICIPANT_PAGE, {"after": after})).json()
        connection = body["data"]["activeBusiness"]["participants"]
        seen += [node["id"] for node in connection["nodes"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert len(seen) == TREMBLE_CONTACTS
    assert len(set(seen)) == TREMBLE_CONTACTS
    assert pages == math.ceil(TREMBLE_CONTACTS / 25)


NESTED_PAGE = """
query($participant: String, $after: String) { activeBusiness {
  participants(first: 1, after: $participant) { nodes {
    registrations(first: 1, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } }
  } pageInfo { endCursor } } } }"""


async def test_nested_connections_page_with_their_own_cursors(world: World) -> None:
    participant_cursor = None
    while True:  # find a participant with more than one registration
        page = (await world.query(NESTED_PAGE, {"participant": participant_cursor})).json()
        participants = page["data"]["activeBusiness"]["participants"]
        registrations = participants["nodes"][0]["registrations"]
        if registrations["pageInfo"]["hasNextPage"]:
            break
        participant_cursor = participants["pageInfo"]["endCursor"]
    walked = [r["id"] for r in registrations["nodes"]]
    while registrations["pageInfo"]["hasNextPage"]:
        variables = {
            "participant": participant_cursor,
            "after": registrations["pageInfo"]["endCursor"],
        }
        page = (await world.query(NESTED_PAGE, variables)).json()
        registrations = page["data"]["activeBusiness"]["participants"]["nodes"][0]["registrations"]
        walked += [r["id"] for r in registrations["nodes"]]
    whole = NESTED_PAGE.replace("registrations(first: 1", "registrations(first: 100")
    page = (await world.query(whole, {"participant": participant_cursor})).json()
    expected = page["data"]["activeBusiness"]["participants"]["nodes"][0]["registrations"]["nodes"]
    assert len(walked) > 1
    assert walked == [r["id"] for r in expected]


async def test_one_page_of_participants_costs_one_call_per_relation_per_wix_page(
    world: World,
) -> None:
    world.reset_counts()
    body = (await world.query(EXAMPLE_QUERY)).json()
    assert "errors" not in body
    page_ids = {n["id"] for n in body["data"]["activeBusiness"]["participants"]["nodes"]}
    assert len(page_ids) == 25

    dataset = generate_dataset(seed=1, contacts=TREMBLE_CONTACTS)
    first_25 = {c["id"] for c in dataset.contacts[:25]}
    bookings = sum(1 for b in dataset.bookings if b["contactDetails"]["contactId"] in first_25)
    orders = sum(1 for o in dataset.orders if o["buyerInfo"]["contactId"] in first_25)
    assert world.upstream_calls() == {
        "contacts.query": 1,
        "subscriptions.query": 1,
        "bookings.query": math.ceil(bookings / 100),
        "orders.search": math.ceil(orders / 100),
    }


async def test_a_page_of_100_participants_with_over_100_bookings_pages_bookings_not_people(
    world: World,
) -> None:
    query = """{ activeBusiness { participants(first: 100) { nodes {
      registrations(first: 1) { nodes { id } } } } } }"""
    world.reset_counts()
    assert "errors" not in (await world.query(query)).json()
    dataset = generate_dataset(seed=1, contacts=TREMBLE_CONTACTS)
    first_100 = {c["id"] for c in dataset.contacts[:100]}
    bookings = sum(1 for b in dataset.bookings if b["contactDetails"]["contactId"] in first_100)
    assert bookings > 100
    assert world.upstream_calls() == {
        "contacts.query": 1,
        "bookings.query": math.ceil(bookings / 100),
    }


async def test_activity_session_and_product_ids_cost_no_upstream_call(world: World) -> None:
    query = """{ activeBusiness { participants(first: 10) { nodes {
      registrations { nodes { activitySession { id } } }
      productPurchases { nodes { product { id } } } } } } }"""
    world.reset_counts()
    assert "errors" not in (await world.query(query)).json()
    calls = world.upstream_calls()
    assert "sessions.get" not in calls and "sessions.query" not in calls
    assert calls == {"contacts.query": 1, "bookings.query": 1, "orders.search": 1}


async def test_a_key_of_one_business_never_sees_another_business_data(world: World) -> None:
    query = """{ activeBusiness { id name participants(first: 100) { nodes { id email } } } }"""
    tremble = (await world.query(query, key="tremble")).json()["data"]["activeBusiness"]
    acme = (await world.query(query, key="acme", handle="acme")).json()["data"]["activeBusiness"]

    assert tremble["name"] == "Tremble Studios" and acme["name"] == "Acme Climbing"
    assert tremble["id"] != acme["id"]
    acme_emails = {c["primaryInfo"]["email"] for c in generate_dataset(2, ACME_CONTACTS).contacts}
    assert {n["email"] for n in acme["participants"]["nodes"]} == acme_emails
    assert not acme_emails & {n["email"] for n in tremble["participants"]["nodes"]}
    assert not {n["id"] for n in acme["participants"]["nodes"]} & {
        n["id"] for n in tremble["participants"]["nodes"]
    }
    assert world.upstream_calls("acme")["contacts.query"] == 1


async def test_a_failing_provider_gives_partial_data_with_upstream_unavailable(
    world: World,
) -> None:
    emulator = world.emulator()
    query = """{ activeBusiness { name participants(first: 5) { nodes { name
      registrations { nodes { id } } } } } }"""
    body = (await world.query("{ activeBusiness { name } }")).json()
    assert body == {
        "data": {"activeBusiness": {"name": "Tremble Studios"}},
        "extensions": {"cost": {"requestedQueryCost": 1, "actualQueryCost": 1}},
    }

    original = emulator.app.router.routes
    bookings_route = next(r for r in original if "extended-bookings" in getattr(r, "path", ""))
    emulator.app.router.routes = [r for r in original if r is not bookings_route]
    try:
        body = answered(await world.query(query))
    finally:
        emulator.app.router.routes = original
    nodes = body["data"]["activeBusiness"]["participants"]["nodes"]
    assert len(nodes) == 5 and all(n["name"] for n in nodes)
    assert all(n["registrations"]["nodes"] == [] for n in nodes)
    assert len(body["errors"]) == 5
    for error in body["errors"]:
        assert error["extensions"] == {
            "code": "UPSTREAM_UNAVAILABLE",
            "provider": "wix",
            "connection": world.connections["tremble"],
        }
        assert error["path"][-1] == "registrations"
        assert "404" not in error["message"] and "NOT_FOUND" not in error["message"]


async def test_a_page_asked_for_again_in_one_request_is_read_once(world: World) -> None:
    """Fifteen aliases of `participants(first: 1)` answer alike and cost the providers what
    one does: a request's provider calls follow its price."""
    aliases = " ".join(f"p{i}: participants(first: 1) {{ nodes {{ id name }} }}" for i in range(15))
    world.reset_counts()
    body = (await world.query(f"{{ activeBusiness {{ {aliases} }} }}")).json()
    assert "errors" not in body, body
    pages = [body["data"]["activeBusiness"][f"p{i}"] for i in range(15)]
    assert pages == [pages[0]] * 15 and len(pages[0]["nodes"]) == 1
    assert world.upstream_calls() == {"contacts.query": 1}
