"""the status index: its current values and its versioned sparse Merkle tree nodes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_index_entries",
        sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_status_index_entries")),
    )
    op.create_table(
        "status_index_nodes",
        sa.Column("depth", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("prefix", sa.LargeBinary(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("leaf_key", sa.Text(), nullable=True),
        sa.Column("leaf_value", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("depth", "prefix", "size", name=op.f("pk_status_index_nodes")),
    )


def downgrade() -> None:
    op.drop_table("status_index_nodes")
    op.drop_table("status_index_entries")
