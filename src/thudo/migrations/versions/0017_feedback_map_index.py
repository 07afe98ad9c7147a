"""feedback: an index for the public map (the grid cells of a box, public reports only)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 05:00:00

The map zoomed in on a neighbourhood reads the public reports inside a box by the grid
cells it touches (feedback/map.py); on PostgreSQL the index carries what the query reads
(an index-only scan). The duplicate-suggestion index starts
with the category, which the map need not name.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_feedback_report_public_cell",
        "feedback_report",
        ["cell"],
        # PostgreSQL: what the box, the filters, the order and the counts per ward read.
        postgresql_include=[
            "created_at",
            "id",
            "lat",
            "lon",
            "category_code",
            "status",
            "open_flag",
            "ward_code",
        ],
        postgresql_where=sa.text("public_listed"),
        sqlite_where=sa.text("public_listed"),
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_report_public_cell", table_name="feedback_report")
