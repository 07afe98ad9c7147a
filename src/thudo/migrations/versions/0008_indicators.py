"""indicators: figures per unit and day and month, progress, immutable monthly snapshots

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
SNAPSHOT_TRIGGERS_PG = """
CREATE FUNCTION indicators_snapshot_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'indicators_snapshot is append-only: publish a new version instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER indicators_snapshot_no_update BEFORE UPDATE OR DELETE ON indicators_snapshot
    FOR EACH ROW EXECUTE FUNCTION indicators_snapshot_immutable();
"""


def upgrade() -> None:
    op.create_table(
        "indicators_day",
        sa.Column("indicator_code", sa.String(length=60), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("numerator", sa.Float(), nullable=False),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("computed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("indicator_code", "unit_code", "day"),
    )
    op.create_index("ix_indicators_day_day", "indicators_day", ["indicator_code", "day"])
    op.create_table(
        "indicators_month",
        sa.Column("indicator_code", sa.String(length=60), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("numerator", sa.Float(), nullable=False),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("indicator_code", "unit_code", "month"),
    )
    op.create_index("ix_indicators_month_month", "indicators_month", ["month", "indicator_code"])
    op.create_table(
        "indicators_progress",
        sa.Column("indicator_code", sa.String(length=60), nullable=False),
        sa.Column("complete_through", sa.Date(), nullable=True),
        sa.Column("definition_hash", sa.String(length=64), nullable=False),
        sa.Column("computed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("indicator_code"),
    )
    op.create_table(
        "indicators_snapshot",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document_code", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("published_by", sa.String(length=120), nullable=False),
        sa.Column("published_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month", "version", name="uq_indicators_snapshot_version"),
    )
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER indicators_snapshot_no_{event.lower()} BEFORE {event} "
                "ON indicators_snapshot BEGIN SELECT RAISE(ABORT, "
                "'indicators_snapshot is append-only: publish a new version instead'); END"
            )
    else:
        op.execute(SNAPSHOT_TRIGGERS_PG)
    op.create_index("ix_dossier_submitted", "dossier", ["submitted_at"])
    op.create_index("ix_dossier_completed", "dossier", ["timer_completed_at"])
    op.create_index("ix_dossier_rated", "dossier", ["rated_at"])
    op.create_index("ix_payments_invoice_paid", "payments_invoice", ["paid_at"])


def downgrade() -> None:
    op.drop_index("ix_payments_invoice_paid", table_name="payments_invoice")
    op.drop_index("ix_dossier_rated", table_name="dossier")
    op.drop_index("ix_dossier_completed", table_name="dossier")
    op.drop_index("ix_dossier_submitted", table_name="dossier")
    op.drop_table("indicators_snapshot")  # its triggers go with it
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION indicators_snapshot_immutable()")
    op.drop_table("indicators_progress")
    op.drop_index("ix_indicators_month_month", table_name="indicators_month")
    op.drop_table("indicators_month")
    op.drop_index("ix_indicators_day_day", table_name="indicators_day")
    op.drop_table("indicators_day")
