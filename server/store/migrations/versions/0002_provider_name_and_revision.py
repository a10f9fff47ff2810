"""A connection names its `provider` (was `kind`); the store revision for caches.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("provider_connections") as table:
        table.alter_column("kind", new_column_name="provider")
    op.create_table(
        "store_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_store_revision"),
    )
    op.execute("INSERT INTO store_revision (id, revision) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("store_revision")
    with op.batch_alter_table("provider_connections") as table:
        table.alter_column("provider", new_column_name="kind")
