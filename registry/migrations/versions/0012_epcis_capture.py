"""EPCIS capture: the events captured (by CBV 2.0 event hash and eventID) and capture jobs

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:00:25.093309
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "capture_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "running", "done", "failed", name="capturejobstate", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("error_behaviour", sa.String(length=16), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", registry.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", registry.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_capture_jobs_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_jobs")),
    )
    with op.batch_alter_table("capture_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_capture_jobs_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "captured_events",
        sa.Column("event_hash", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=500), nullable=True),
        sa.Column("record_index", sa.BigInteger(), nullable=False),
        sa.Column("captured_at", registry.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_index"],
            ["records.log_index"],
            name=op.f("fk_captured_events_record_index_records"),
        ),
        sa.PrimaryKeyConstraint("event_hash", name=op.f("pk_captured_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_captured_events_event_id")),
    )
    with op.batch_alter_table("captured_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_captured_events_record_index"), ["record_index"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("captured_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_captured_events_record_index"))

    op.drop_table("captured_events")
    with op.batch_alter_table("capture_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_capture_jobs_organization_id"))

    op.drop_table("capture_jobs")
