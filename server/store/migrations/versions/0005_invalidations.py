"""The invalidation log: what each store revision changed (a key, a business, its
connections, a sync), so that servers drop only that from their caches.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "store_invalidations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_store_invalidations"),
    )
    op.create_index("ix_store_invalidations_revision", "store_invalidations", ["revision"])


def downgrade() -> None:
    op.drop_index("ix_store_invalidations_revision", table_name="store_invalidations")
    op.drop_table("store_invalidations")
