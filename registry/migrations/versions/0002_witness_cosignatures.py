"""witness cosignatures of checkpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkpoint_cosignatures",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("created_at", registry.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["size"],
            ["checkpoints.size"],
            name=op.f("fk_checkpoint_cosignatures_size_checkpoints"),
        ),
        sa.PrimaryKeyConstraint("size", "witness", name=op.f("pk_checkpoint_cosignatures")),
    )
    with op.batch_alter_table("checkpoint_cosignatures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkpoint_cosignatures_witness_size", ["witness", "size"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("checkpoint_cosignatures", schema=None) as batch_op:
        batch_op.drop_index("ix_checkpoint_cosignatures_witness_size")

    op.drop_table("checkpoint_cosignatures")
