"""The index of indexed connections (participants, sessions, registrations) and their
sync state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["connection_id"],
        ["provider_connections.id"],
        name=f"fk_{table}_connection_id_provider_connections",
        ondelete="CASCADE",
    )


def _instant(name: str) -> sa.Column:
    return sa.Column(name, sa.String(24), nullable=True)


def upgrade() -> None:
    op.create_table(
        "index_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(400), nullable=True),
        sa.Column("email", sa.String(400), nullable=True),
        _instant("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_index_participants"),
        sa.UniqueConstraint(
            "connection_id", "provider_id", name="uq_index_participants_connection_id_provider_id"
        ),
        _fk("index_participants"),
    )
    op.create_table(
        "index_sessions",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(200), nullable=False),
        sa.Column("title", sa.String(400), nullable=True),
        _instant("starts_at"),
        _instant("ends_at"),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        _instant("created_at"),
        sa.PrimaryKeyConstraint("connection_id", "provider_id", name="pk_index_sessions"),
        _fk("index_sessions"),
    )
    op.create_table(
        "index_registrations",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(400), nullable=False),
        sa.Column("participant_id", sa.String(200), nullable=False),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _instant("confirmed_at"),
        _instant("created_at"),
        sa.Column("precedence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "provider_id", name="pk_index_registrations"),
        _fk("index_registrations"),
    )
    op.create_index(
        "ix_index_registrations_participant",
        "index_registrations",
        ["connection_id", "participant_id"],
    )
    op.create_table(
        "sync_states",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("checkpoint", sa.JSON(), nullable=True),
        sa.Column("pace", sa.JSON(), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("registrations", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("connection_id", name="pk_sync_states"),
        _fk("sync_states"),
    )


def downgrade() -> None:
    op.drop_table("sync_states")
    op.drop_index("ix_index_registrations_participant", table_name="index_registrations")
    op.drop_table("index_registrations")
    op.drop_table("index_sessions")
    op.drop_table("index_participants")
