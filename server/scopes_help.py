"""`keys create --help`: the scopes a key can be minted with, read from the policy file.

Only the TOML is read (no schema is built), and only when the help is shown.
"""

from __future__ import annotations

from pathlib import Path

import click

from server import settings


def scope_rows(path: Path) -> list[tuple[str, str]]:
    """(scope, what it grants and needs) for each scope the policy at `path` declares."""
    from schema.policy.model import load_policy

    policy = load_policy(path)
    rows = []
    for scope, grants in policy.scopes.items():
        meaning = grants.replace("`", "")
        if scope in policy.implicit:
            meaning += " Always added."
        elif needed := policy.prerequisites(scope):
            meaning += f" Needs {', '.join(needed)}."
        rows.append((scope, meaning))
    return rows


def write_scopes(formatter: click.HelpFormatter, path: Path) -> None:
    """The Scopes section; one line saying why when the policy file cannot be read."""
    from schema.policy.model import PolicyError

    with formatter.section("Scopes"):
        try:
            formatter.write_dl(scope_rows(path))
        except PolicyError as error:
            formatter.write_text(
                f"Those the policy file declares; it cannot be read now ({error})."
            )


class ScopesListed(click.Command):
    """A command whose help ends its options with the policy's scopes."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        write_scopes(formatter, settings.DEFAULT_POLICY)
