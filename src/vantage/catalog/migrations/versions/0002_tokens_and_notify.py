"""API tokens (hashed) and the jobs' notification targets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vantage.catalog.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", vantage.catalog.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", vantage.catalog.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", vantage.catalog.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
    )
    op.create_index("uq_api_tokens_name", "api_tokens", ["name"], unique=True)
    op.create_index("uq_api_tokens_token_sha256", "api_tokens", ["token_sha256"], unique=True)
    # A plain ADD COLUMN on both databases: a batch (copy-and-move) rebuild of ``jobs`` on
    # SQLite would have to recreate its hand-written partial indexes.
    op.add_column("jobs", sa.Column("notify", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "notify")  # SQLite ≥ 3.35 drops a column in place
    op.drop_index("uq_api_tokens_token_sha256", table_name="api_tokens")
    op.drop_index("uq_api_tokens_name", table_name="api_tokens")
    op.drop_table("api_tokens")
