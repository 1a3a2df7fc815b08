"""Capture jobs survive a restart: an asynchronous job keeps its document and account until
a worker has run it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("capture_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("document", sa.JSON(none_as_null=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_capture_jobs_account_id_accounts"), "accounts", ["account_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_capture_jobs_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("capture_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_capture_jobs_state"))
        batch_op.drop_constraint(
            batch_op.f("fk_capture_jobs_account_id_accounts"), type_="foreignkey"
        )
        batch_op.drop_column("document")
        batch_op.drop_column("account_id")
