"""problem reports carry the guarantee bundle the viewer's phone verified

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_bundles",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("bundle", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["problem_reports.id"],
            name=op.f("fk_report_bundles_report_id_problem_reports"),
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_report_bundles")),
    )


def downgrade() -> None:
    op.drop_table("report_bundles")
