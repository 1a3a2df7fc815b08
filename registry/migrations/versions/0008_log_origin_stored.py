"""log origin stored with the log: the checkpoint origin is fixed at the log's creation
instead of being derived from the base URL on every start

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("log_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.Text(), nullable=True))
    # A log made before this revision keeps the name its checkpoints were signed under: the
    # first line of the newest checkpoint note (c2sp.org/tlog-checkpoint).
    bind = op.get_bind()
    note = bind.execute(sa.text("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")).scalar()
    if note:
        origin = (note.decode() if isinstance(note, bytes) else note).split("\n", 1)[0]
        bind.execute(sa.text("UPDATE log_state SET origin = :origin"), {"origin": origin})


def downgrade() -> None:
    with op.batch_alter_table("log_state", schema=None) as batch_op:
        batch_op.drop_column("origin")
