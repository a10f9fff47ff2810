"""The GraphiQL explorer, served to a browser that opens the GraphQL endpoint."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from server.http.responses import GRAPHQL_RESPONSE_JSON, JSON


def _qualities(accept: str) -> dict[str, float]:
    qualities: dict[str, float] = {}
    for item in accept.split(","):
        media_range, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        qualities[media_range.lower()] = max(quality, qualities.get(media_range.lower(), 0.0))
    return qualities


def wants_html(request: Request) -> bool:
    """True when `Accept` prefers `text/html` over the JSON types: a browser, not a client."""
    qualities = _qualities(request.headers.get("accept", ""))
    html = qualities.get("text/html", 0.0)
    json_types = max(qualities.get(GRAPHQL_RESPONSE_JSON, 0.0), qualities.get(JSON, 0.0))
    return html > 0 and html > json_types


def graphiql_page(request: Request) -> Response:
    return HTMLResponse("<!doctype html><title>GraphiQL</title><h1>GraphiQL</h1>")
