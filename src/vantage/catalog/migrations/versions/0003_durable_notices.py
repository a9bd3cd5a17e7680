"""Durable job notices: when they were delivered, who holds them, and an index of those owed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 10:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vantage.catalog.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OWED = "notify IS NOT NULL AND notified_at IS NULL"


def upgrade() -> None:
    moment = vantage.catalog.models.UTCDateTime(timezone=True)
    # Plain ADD COLUMNs (see 0002): no batch rebuild of ``jobs`` and its partial indexes.
    op.add_column("jobs", sa.Column("notified_at", moment, nullable=True))
    op.add_column("jobs", sa.Column("notice_lease_until", moment, nullable=True))
    # Jobs finished before this revision had their notices sent already (or lost): not owed.
    op.execute("UPDATE jobs SET notified_at = finished_at WHERE notify IS NOT NULL")
    op.create_index(
        "ix_jobs_notices_owed",
        "jobs",
        ["finished_at"],
        postgresql_where=sa.text(_OWED),
        sqlite_where=sa.text(_OWED),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_notices_owed", table_name="jobs")
    op.drop_column("jobs", "notice_lease_until")
    op.drop_column("jobs", "notified_at")
