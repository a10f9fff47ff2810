"""Indexes for the index's keyset reads: a page of a connection's participants after a
number (`connection_id = ? AND id > ? ORDER BY id`) and a connection's sessions starting
in a window, each read within its own connection's rows instead of over every
connection's.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_index_participants_keyset", "index_participants", ["connection_id", "id"])
    op.create_index("ix_index_sessions_starts", "index_sessions", ["connection_id", "starts_at"])


def downgrade() -> None:
    op.drop_index("ix_index_sessions_starts", table_name="index_sessions")
    op.drop_index("ix_index_participants_keyset", table_name="index_participants")
