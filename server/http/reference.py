"""`GET /@{handle}/api/reference`: the reference page, the same for every business.

It is rendered once, at start-up, from the loaded policy, so it always matches what the
server enforces. It needs no key and does not look the handle up, so it reveals nothing
about which businesses exist.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response


async def reference_page(request: Request) -> Response:
    return HTMLResponse(request.app.state.services.reference_html)
