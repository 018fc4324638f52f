"""statistics and reports: daily summary facts, monthly reports, export jobs, report indexes (issue 7)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")

# (index name, table, columns) on tables other revisions created.
INDEXES = (
    ("ix_permit_status_valid", "permit", ["status", "valid_until"]),
    ("ix_permit_issued_at", "permit", ["issued_at"]),
    ("ix_permit_created_at", "permit", ["created_at"]),
    ("ix_permit_photo_id", "permit", ["photo_id"]),
    ("ix_registration_photo_id", "residence_registration", ["photo_id"]),
    ("ix_registration_status_valid", "residence_registration", ["status", "valid_until"]),
    ("ix_registration_created_at", "residence_registration", ["created_at"]),
    ("ix_endorsement_endorsed_on", "endorsement", ["endorsed_on"]),
    ("ix_deregistration_created_at", "deregistration", ["created_at"]),
    ("ix_photo_taken_at", "photo", ["taken_at"]),
    ("ix_instance_created_at", "process_instance", ["created_at"]),
    ("ix_human_task_completed_at", "human_task", ["completed_at"]),
    ("ix_process_event_at", "process_event", ["at"]),
    ("ix_integration_call_at", "integration_call", ["at"]),
    ("ix_integration_call_op_at", "integration_call", ["system", "operation", "at"]),
)


def upgrade() -> None:
    """Create the report tables and the report indexes."""
    op.create_table(
        "report_daily_stat",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dim", sa.String(length=120), nullable=False),
        sa.Column("dim2", sa.String(length=60), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("total_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_daily_stat")),
        sa.UniqueConstraint("metric", "day", "dim", "dim2", name="uq_report_daily_stat"),
    )
    op.create_table(
        "report_refresh",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_day", sa.Date(), nullable=False),
        sa.Column("to_day", sa.Date(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_refresh")),
    )
    with op.batch_alter_table("report_refresh", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_refresh_refreshed_at"), ["refreshed_at"], unique=False)
    op.create_table(
        "monthly_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by", sa.String(length=64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_report")),
        sa.UniqueConstraint("month", name=op.f("uq_monthly_report_month")),
    )
    op.create_table(
        "export_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("unmask", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_job")),
        sa.UniqueConstraint("public_id", name=op.f("uq_export_job_public_id")),
    )
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.create_index("ix_export_job_user", ["requested_by", "id"], unique=False)
    for name, table, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    """Drop the report indexes and tables."""
    for name, table, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.drop_index("ix_export_job_user")
    op.drop_table("export_job")
    op.drop_table("monthly_report")
    with op.batch_alter_table("report_refresh", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_refresh_refreshed_at"))
    op.drop_table("report_refresh")
    op.drop_table("report_daily_stat")
