"""The landing page `/`, and the links between the pages a browser sees: the landing page,
the explorer and the reference."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from schema.example import EXAMPLE_QUERY
from server.app import create_app
from server.http import graphiql
from tests.server.conftest import World, settings_for

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def _client(tmp_path: Path, landing_handle: str | None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(tmp_path), landing_handle=landing_handle)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.services.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(tmp_path, None):
        yield client


@pytest.fixture
async def demo_server(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(tmp_path, "tremble"):
        yield client


def _links(page: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', page)


async def test_the_landing_page_says_what_the_server_is_and_where_to_go(
    server: httpx.AsyncClient,
) -> None:
    response = await server.get("/", headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<h1>Sessions Business API</h1>" in page
    assert "/@<var>handle</var>/api/graphql" in page
    assert "/@<var>handle</var>/api/reference" in page
    # It knows no business, so it links none: only the health checks.
    assert _links(page) == ["data:,", "/healthz", "/readyz"]
    assert (await server.get("/healthz")).status_code == 200


async def test_the_landing_page_allows_nothing_but_its_own_inline_style(
    server: httpx.AsyncClient,
) -> None:
    response = await server.get("/")
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'none'"
    styles = re.findall(r"<style>(.*?)</style>", response.text, flags=re.DOTALL)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert policy["style-src"] == f"'sha256-{digest}'"
    assert "<script" not in response.text
    assert not re.search(r"https?://", response.text)
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_server_started_for_a_business_links_its_explorer_and_reference(
    demo_server: httpx.AsyncClient,
) -> None:
    page = (await demo_server.get("/")).text
    links = _links(page)
    assert "/@tremble/api/graphql" in links and "/@tremble/api/reference" in links
    for link in links:
        if link.startswith("/"):
            response = await demo_server.get(link, headers=BROWSER)
            assert response.status_code in (200, 503), link  # /readyz: no store yet
            if link.startswith("/@"):
                assert response.headers["content-type"].startswith("text/html"), link


async def test_the_explorer_links_the_reference_and_the_reference_the_explorer(
    demo_server: httpx.AsyncClient,
) -> None:
    explorer_url = "http://testserver/@acme/api/graphql"
    explorer = (await demo_server.get(explorer_url, headers=BROWSER)).text
    config = json.loads(re.search(r"const config = (\{.*?\});\n", explorer).group(1))  # type: ignore[union-attr]
    reference_url = urljoin(explorer_url, config["referenceUrl"])
    assert reference_url == "http://testserver/@acme/api/reference"
    reference = await demo_server.get(reference_url)
    assert reference.status_code == 200
    back = [link for link in _links(reference.text) if not link.startswith("#")]
    assert [urljoin(reference_url, link) for link in back] == [explorer_url]


async def test_the_explorer_opens_with_the_document_s_example_query(
    server: httpx.AsyncClient, world: World
) -> None:
    # One copy of the example: the explorer shows the very string the reference prices.
    assert graphiql.EXAMPLE_QUERY is EXAMPLE_QUERY
    explorer = (await server.get("/@acme/api/graphql", headers=BROWSER)).text
    config = json.loads(re.search(r"const config = (\{.*?\});\n", explorer).group(1))  # type: ignore[union-attr]
    assert config["query"] == EXAMPLE_QUERY

    body = (await world.query(config["query"])).json()
    assert "errors" not in body, body
    participants = body["data"]["activeBusiness"]["participants"]
    assert len(participants["nodes"]) == 25
