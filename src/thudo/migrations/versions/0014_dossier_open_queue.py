"""dossiers: partial indexes for the work queue (open dossiers per unit in due order) and
a unit's ratings

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_dossier_open_queue",
        "dossier",
        ["unit_code", "due_at", "id"],
        postgresql_where=sa.text("timer_completed_at IS NULL"),
        sqlite_where=sa.text("timer_completed_at IS NULL"),
    )
    op.create_index(
        "ix_dossier_unit_ratings",
        "dossier",
        ["unit_code", "rated_at", "rating"],
        postgresql_where=sa.text("rating IS NOT NULL"),
        sqlite_where=sa.text("rating IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_dossier_unit_ratings", table_name="dossier")
    op.drop_index("ix_dossier_open_queue", table_name="dossier")
