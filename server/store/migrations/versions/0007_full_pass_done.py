"""The number of a connection's last full pass that ran to its end: a full pass is under
way while the one started is not that one, and a connection none has finished is still on
its first (which records and emits nothing).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sync_states",
        sa.Column("full_pass_done", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("sync_states") as batch:
        batch.drop_column("full_pass_done")
