"""The GraphiQL explorer, served to a browser that opens `/@{handle}/api/graphql`.

The page is public: it holds no data and no key. Every request it sends goes to the same
endpoint as any other client, with the key the user pastes into the header editor, so it
sees exactly the key's slice. Its assets are vendored under `/_static/graphiql/` (see
`scripts/vendor-graphiql.sh`) because the machines that open it may have no internet; the
Content-Security-Policy makes the browser refuse anything from elsewhere.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from schema.example import EXAMPLE_QUERY
from server.http.responses import GRAPHQL_RESPONSE_JSON, JSON, accept_ranges

ASSETS = "/_static/graphiql"

DEFAULT_HEADERS = '{"Authorization": "Bearer "}'

# Relative, so it works under any handle and behind a proxy that adds a path prefix.
REFERENCE_LINK = "reference"

KEY_NEEDED = (
    "Paste an API key after `Bearer ` in the Headers tab below: the schema, the documentation"
    " and completion load as soon as it is there, showing what that key may read."
)

_JSON_TYPES = (JSON, GRAPHQL_RESPONSE_JSON)

# The key goes into the header editor, so the page must not be framed by another site, and
# it must not leak its URL or load code from anywhere but here.
_CSP = (
    "default-src 'none'; "
    "script-src 'self' 'nonce-{nonce}'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "base-uri 'none'; "
    "form-action 'none'; "
    "frame-ancestors 'none'"
)

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _script_json(value: object) -> str:
    """JSON that is safe inside an inline <script>: a handle such as `</script>` cannot end
    the element or open a comment."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def graphiql_page(request: Request) -> HTMLResponse:
    """The explorer for this handle. Headers are never persisted, so a pasted key leaves
    nothing in the browser's storage; queries and tabs are kept per handle."""
    handle = request.path_params["handle"]
    config = {
        "url": request.url.path,
        "query": EXAMPLE_QUERY,
        "headers": DEFAULT_HEADERS,
        "keyNeeded": KEY_NEEDED,
        "referenceUrl": REFERENCE_LINK,
        "storageNamespace": f"business-api:@{handle}",
    }
    nonce = secrets.token_urlsafe(16)
    page = _TEMPLATES.get_template("graphiql.html").render(
        title=f"{handle} · Business API explorer",
        assets=ASSETS,
        nonce=nonce,
        config_json=Markup(_script_json(config)),
    )
    headers = {
        "Content-Security-Policy": _CSP.format(nonce=nonce),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return HTMLResponse(page, headers=headers)


def _quality(ranges: list[tuple[str, float]], media_type: str) -> tuple[float, int]:
    """The quality the most specific matching range gives `media_type`, and how specific
    that range was (2 exact, 1 `type/*`, 0 `*/*`, -1 no match)."""
    kind = media_type.split("/")[0]
    best = (0.0, -1)
    for media, quality in ranges:
        if media == media_type:
            specificity = 2
        elif media == f"{kind}/*":
            specificity = 1
        elif media == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[1]:
            best = (quality, specificity)
    return best


def wants_html(request: Request) -> bool:
    """True for a browser navigating to the endpoint; false for API clients.

    Only an explicit `text/html` (or `text/*`) counts, so `*/*`, a missing header or any JSON
    type keeps the API's JSON answers; on a tie JSON wins."""
    ranges = accept_ranges(request.headers.get("accept", ""))
    html_quality, specificity = _quality(ranges, "text/html")
    if specificity < 1 or html_quality <= 0:
        return False
    json_quality = max(_quality(ranges, media)[0] for media in _JSON_TYPES)
    return html_quality > json_quality
