"""batch custody: who holds each batch, the carriers and labs it was handed to, and where
its latest shipping sends it (docs/records.md, "Custody")

Existing batches start held by their producer with no carriers, labs or destination: the
custody a log written before these rules would replay to is not reconstructed here.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder_org_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("carrier_org_ids", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(sa.Column("destination_org_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("lab_org_ids", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_batches_holder_org_id"), ["holder_org_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_batches_destination_org_id"), ["destination_org_id"], unique=False
        )
    op.execute("UPDATE batches SET holder_org_id = origin_org_id")


def downgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_destination_org_id"))
        batch_op.drop_index(batch_op.f("ix_batches_holder_org_id"))
        batch_op.drop_column("lab_org_ids")
        batch_op.drop_column("destination_org_id")
        batch_op.drop_column("carrier_org_ids")
        batch_op.drop_column("holder_org_id")
