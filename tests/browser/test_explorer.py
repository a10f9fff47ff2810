"""The landing page, the explorer and the reference in a real browser, against a live
demo server.

These catch what no HTTP-level test can: that the vendored GraphiQL bundle loads with the
page's Content-Security-Policy and no internet, that a key pasted into its header editor
is sent, that its documentation explorer shows only the key's slice of the schema, that
the pages link each other, and that the reference fits a phone's screen.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import LiveDemo, running_demo

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000

if importlib.util.find_spec("playwright") is None:
    pytest.skip("playwright is not installed (pip install playwright)", allow_module_level=True)
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDemo]:
    with running_demo(tmp_path_factory.mktemp("browser")) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "Content-Security-Policy" in message.text
            else None
        ),
    )
    try:
        yield opened
        assert problems == [], problems
    finally:
        context.close()


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def _replace_editor_text(page: Page, editor_selector: str, text: str) -> None:
    """CodeMirror ignores `fill`; it takes focus on click and typed input like a user's."""
    page.locator(editor_selector).click()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.press("Backspace")
    page.keyboard.insert_text(text)


def _paste_key(page: Page, key: str) -> None:
    """Into the header editor, after `Bearer `, as the page asks."""
    tools = page.locator(".graphiql-editor-tool")
    expect(tools).to_be_visible()  # the header editor is open from the start
    headers_tab = page.get_by_role("button", name="Headers", exact=True)
    if headers_tab.get_attribute("aria-selected") != "true":
        headers_tab.click()
    headers = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
    expect(page.locator(headers)).to_contain_text('"Authorization": "Bearer "')
    _replace_editor_text(page, headers, json.dumps({"Authorization": f"Bearer {key}"}))


def test_the_explorer_runs_the_example_query_with_a_pasted_key(page: Page, demo: LiveDemo) -> None:
    response = page.goto(demo.graphql_url)
    assert response is not None and response.status == 200
    expect(page).to_have_title("tremble · Business API explorer")
    expect(page.locator(".graphiql-container")).to_be_visible()
    expect(page.locator(".graphiql-query-editor")).to_contain_text("activeBusiness")
    expect(page.locator(".graphiql-response")).to_contain_text("Paste an API key")

    _paste_key(page, demo.key)
    page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response .result-window")
    expect(result).to_contain_text('"participants"')
    expect(result).to_contain_text("Tremble Studios")
    assert '"errors"' not in result.inner_text()
    _screenshot(page, "explorer-query.png")

    page.locator('[aria-label="Show Documentation Explorer"]').click()
    docs = page.locator(".graphiql-doc-explorer")
    expect(docs).to_be_visible()
    docs.get_by_text("Query", exact=True).first.click()
    expect(docs).to_contain_text("activeBusiness")
    expect(docs).not_to_contain_text("businesses")
    docs.get_by_text("activeBusiness", exact=True).first.click()
    docs.get_by_text("Business", exact=True).first.click()
    expect(docs).to_contain_text("participants")
    expect(docs).not_to_contain_text("apiKeys")
    _screenshot(page, "explorer-docs.png")


def test_the_reference_page_lists_the_exposed_fields_and_scopes(page: Page, demo: LiveDemo) -> None:
    response = page.goto(demo.base_url + "/@tremble/api/reference")
    assert response is not None
    if response.status == 404:
        pytest.skip("the reference page is not served yet")
    assert response.status == 200
    body = page.locator("body")
    expect(body).to_contain_text("activeBusiness")
    expect(body).to_contain_text("participants:read")
    _screenshot(page, "reference.png")


def _no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_landing_page_leads_to_the_explorer_which_runs_the_example_query(
    page: Page, demo: LiveDemo
) -> None:
    response = page.goto(demo.base_url + "/")
    assert response is not None and response.status == 200
    expect(page).to_have_title("Sessions Business API")
    _screenshot(page, "landing.png")
    page.get_by_role("link", name="Explorer", exact=True).click()
    expect(page).to_have_url(demo.graphql_url)
    expect(page.locator(".graphiql-query-editor")).to_contain_text("productPurchases")

    _paste_key(page, demo.key)
    page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response .result-window")
    expect(result).to_contain_text('"participants"')
    # CodeMirror draws only the lines in view, and 25 participants do not fit: the whole
    # answer is read from the editor that shows it.
    shown = json.loads(
        page.locator(".graphiql-response .result-window .CodeMirror").evaluate(
            "editor => editor.CodeMirror.getValue()"
        )
    )
    assert "errors" not in shown, shown
    participants = shown["data"]["activeBusiness"]["participants"]
    assert len(participants["nodes"]) == 25

    page.get_by_role("link", name="Reference", exact=True).click()
    expect(page).to_have_url(demo.base_url + "/@tremble/api/reference")


def test_the_reference_reached_from_the_landing_page_fits_a_narrow_screen(
    page: Page, demo: LiveDemo
) -> None:
    page.goto(demo.base_url + "/")
    page.get_by_role("link", name="Reference", exact=True).click()
    expect(page).to_have_url(demo.base_url + "/@tremble/api/reference")
    expect(page.locator("body")).to_contain_text("participants.email:read")
    assert _no_horizontal_scroll(page)

    page.set_viewport_size({"width": 420, "height": 900})
    expect(page.locator("nav")).not_to_have_css("position", "sticky")  # the phone layout
    assert _no_horizontal_scroll(page), page.evaluate("document.documentElement.scrollWidth")
    _screenshot(page, "reference-narrow.png")

    page.get_by_role("link", name="Explorer", exact=False).first.click()
    expect(page).to_have_url(demo.graphql_url)
