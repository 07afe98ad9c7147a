"""indicators: indexes for each day's check-ins, verifications, answered reports, responses

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 18:25:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_health_checkin_created", "health_checkin", ["created_at"]),
    ("ix_health_intake_received", "health_intake", ["received_at"]),
    ("ix_feedback_report_resolved", "feedback_report", ["resolved_at"]),
    ("ix_participation_response_submitted", "participation_response", ["submitted_at"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
