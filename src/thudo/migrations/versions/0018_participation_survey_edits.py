"""participation: the history of survey edits, and the cursor of the in-app notices sent
to a survey's audience when it opens

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 05:10:00

Surveys opened before this revision are not announced: their notices count as done.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("participation_survey") as batch:
        batch.add_column(sa.Column("notice_cursor", BIGINT, nullable=True))
        batch.add_column(sa.Column("notices_done_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE participation_survey SET notices_done_at = published_at "
        "WHERE published_at IS NOT NULL"
    )
    op.create_table(
        "participation_survey_change",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("survey_id", BIGINT, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("changed_by_name", sa.String(length=150), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["participation_survey.id"],
            name=op.f("fk_participation_survey_change_survey_id_participation_survey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation_survey_change")),
    )
    op.create_index(
        "ix_participation_survey_change_survey_id", "participation_survey_change", ["survey_id"]
    )


def downgrade() -> None:
    op.drop_index(
        "ix_participation_survey_change_survey_id", table_name="participation_survey_change"
    )
    op.drop_table("participation_survey_change")
    with op.batch_alter_table("participation_survey") as batch:
        batch.drop_column("notices_done_at")
        batch.drop_column("notice_cursor")
