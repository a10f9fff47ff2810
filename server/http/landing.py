"""`GET /`: what this server is and where to go from here, for someone who opens it in a
browser.

The page is the same for every visitor and names no business: listing them would take a
store query and tell anyone which businesses exist. A server started for one business (the
demo, for @tremble) links that business's explorer and reference directly. The page is
rendered once; its only style is inline, allowed by its hash, and the
Content-Security-Policy refuses everything else, as the explorer's does.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

_TEMPLATES_DIR = Path(__file__).parent / "templates"

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

_CSP = (
    "default-src 'none'; "
    "style-src '{style_hash}'; "
    "img-src data:; "
    "base-uri 'none'; "
    "form-action 'none'; "
    "frame-ancestors 'none'"
)


def _style_hash(css: str) -> str:
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def render_landing(handle: str | None) -> tuple[str, dict[str, str]]:
    """The page and its headers; `handle`: the business to link, if any."""
    css = (_TEMPLATES_DIR / "landing.css").read_text(encoding="utf-8")
    page = _TEMPLATES.get_template("landing.html").render(css=Markup(css), handle=handle)
    headers = {
        "Content-Security-Policy": _CSP.format(style_hash=_style_hash(css)),
        "X-Content-Type-Options": "nosniff",
    }
    return page, headers


def landing_page(handle: str | None = None) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint serving the landing page, linking `handle`'s explorer when given."""
    page, headers = render_landing(handle)

    async def landing(request: Request) -> Response:
        return HTMLResponse(page, headers=headers)

    return landing
