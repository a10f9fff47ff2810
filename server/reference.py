"""Writing the generated reference to files (`business-api docs build`)."""

from __future__ import annotations

from pathlib import Path

from schema.policy.reference import render_html, render_markdown
from server.services import load_graph, policy_reference
from server.settings import Settings

FILES = ("reference.md", "reference.html", "schema.graphql")


def write_reference(settings: Settings, out: Path) -> list[Path]:
    graph = load_graph(settings.policy_path)
    reference = policy_reference(graph.policy, graph.slices)
    out.mkdir(parents=True, exist_ok=True)
    contents = (render_markdown(reference), render_html(reference), reference.sdl + "\n")
    written = []
    for name, text in zip(FILES, contents, strict=True):
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
