"""The change log of providers' records, and what detecting changes needs: a sequence per
business, fingerprints of live connections' records, and the full passes that find what
was removed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


def _moment(name: str, *, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "businesses", sa.Column("change_seq", sa.BigInteger(), nullable=False, server_default="0")
    )
    for table in ("index_participants", "index_registrations"):
        op.add_column(
            table, sa.Column("seen_pass", sa.Integer(), nullable=False, server_default="0")
        )
    op.add_column(
        "sync_states", sa.Column("full_pass", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("sync_states", _moment("last_full_at", nullable=True))
    op.create_table(
        "change_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("record_gid", sa.String(512), nullable=False),
        sa.Column("participant_gid", sa.String(512), nullable=False),
        sa.Column("connection", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        _moment("occurred_at", nullable=True),
        _moment("observed_at", nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name="fk_change_events_business_id_businesses",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_change_events"),
        sa.UniqueConstraint("business_id", "seq", name="uq_change_events_business_id_seq"),
    )
    op.create_index("ix_change_events_observed_at", "change_events", ["observed_at"])
    op.create_table(
        "record_fingerprints",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("record_gid", sa.String(512), nullable=False),
        sa.Column("participant_gid", sa.String(512), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("seen_pass", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["provider_connections.id"],
            name="fk_record_fingerprints_connection_id_provider_connections",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "connection_id", "kind", "record_gid", name="pk_record_fingerprints"
        ),
    )


def downgrade() -> None:
    op.drop_table("record_fingerprints")
    op.drop_index("ix_change_events_observed_at", table_name="change_events")
    op.drop_table("change_events")
    with op.batch_alter_table("sync_states") as batch:
        batch.drop_column("last_full_at")
        batch.drop_column("full_pass")
    for table in ("index_registrations", "index_participants"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seen_pass")
    with op.batch_alter_table("businesses") as batch:
        batch.drop_column("change_seq")
