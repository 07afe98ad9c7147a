"""identity: an account on a one-time password from an administrator must change it
before its staff permissions apply

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_account") as batch:
        batch.add_column(
            sa.Column(
                "password_change_required", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_account") as batch:
        batch.drop_column("password_change_required")
