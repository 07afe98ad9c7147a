"""payments: invoice numbers from a PostgreSQL sequence instead of one locked row per day

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 01:50:00

Every invoice took its number from the day's `payments_invoice_sequence` row, locked by
the upsert until the issuing transaction committed: one city-wide queue for every invoice
of every module. On PostgreSQL numbers now come from the sequence created here (nextval
never waits for another transaction); invoice codes become HD + yyyymmdd + 8 digits. The
per-day table stays: SQLite (one writer at a time) keeps counting there, and codes issued
before keep their 6-digit numbers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE payments_invoice_number AS bigint START 1 CACHE 1")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE payments_invoice_number")
