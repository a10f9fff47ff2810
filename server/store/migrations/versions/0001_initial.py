"""Initial schema: businesses, API keys, provider connections.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Column types are spelled out here instead of imported from the models, so this revision
keeps describing the schema as it was even after the models change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "businesses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("handle", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        _timestamp("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_businesses"),
        sa.UniqueConstraint("public_id", name="uq_businesses_public_id"),
    )
    op.create_index("ix_businesses_handle", "businesses", ["handle"], unique=True)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("last_used_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        _timestamp("expires_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_id", name="uq_api_keys_key_id"),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name="fk_api_keys_business_id_businesses",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_api_keys_business_id", "api_keys", ["business_id"])

    op.create_table(
        "provider_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("credential_encrypted", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_provider_connections"),
        sa.UniqueConstraint("public_id", name="uq_provider_connections_public_id"),
        sa.UniqueConstraint(
            "business_id", "position", name="uq_provider_connections_business_id_position"
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name="fk_provider_connections_business_id_businesses",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("provider_connections")
    op.drop_index("ix_api_keys_business_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index("ix_businesses_handle", table_name="businesses")
    op.drop_table("businesses")
