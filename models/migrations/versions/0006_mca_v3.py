"""MCA 3.0 interface: caller apps, append-only call audit, submissions (issue 5, B1)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The audit refuses every UPDATE, and any DELETE of a row younger than 180 days (the legal minimum,
# MLPS level 3): the purge command can remove only what the law allows, whatever the client.
AUDIT_GUARD = """
CREATE OR REPLACE FUNCTION mca_call_audit_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.called_at < now() - interval '180 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'mca_call_audit is append-only (rows are kept at least 180 days)';
END;
$$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    """Create the MCA tables; on PostgreSQL guard the audit with a trigger."""
    op.create_table(
        "mca_app",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("channel_code", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mca_app")),
        sa.UniqueConstraint("app_id", name=op.f("uq_mca_app_app_id")),
    )
    op.create_table(
        "mca_call_audit",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("interface_code", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("result_code", sa.String(length=64), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("request_sm3", sa.String(length=64), nullable=False),
        sa.Column("response_sm3", sa.String(length=64), nullable=False),
        sa.Column("signature_result", sa.String(length=16), nullable=False),
        sa.Column("business_key", sa.String(length=120), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mca_call_audit")),
    )
    with op.batch_alter_table("mca_call_audit", schema=None) as batch_op:
        batch_op.create_index("ix_mca_call_audit_app_called", ["app_id", "called_at"], unique=False)
        batch_op.create_index("ix_mca_call_audit_called_at", ["called_at"], unique=False)
    op.create_table(
        "mca_submission",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("interface_code", sa.String(length=64), nullable=False),
        sa.Column("process_key", sa.String(length=64), nullable=False),
        sa.Column("business_key", sa.String(length=120), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("person_digest", sa.String(length=100), nullable=False),  # models.protection.INDEX_LENGTH
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mca_submission")),
    )
    with op.batch_alter_table("mca_submission", schema=None) as batch_op:
        batch_op.create_index("ix_mca_submission_person", ["person_digest", "process_key"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(AUDIT_GUARD)
        op.execute(
            "CREATE TRIGGER mca_call_audit_append_only BEFORE UPDATE OR DELETE ON mca_call_audit "
            "FOR EACH ROW EXECUTE FUNCTION mca_call_audit_guard()"
        )


def downgrade() -> None:
    """Drop the MCA tables (and the audit trigger)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS mca_call_audit_append_only ON mca_call_audit")
        op.execute("DROP FUNCTION IF EXISTS mca_call_audit_guard()")
    with op.batch_alter_table("mca_submission", schema=None) as batch_op:
        batch_op.drop_index("ix_mca_submission_person")
    op.drop_table("mca_submission")
    with op.batch_alter_table("mca_call_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_mca_call_audit_called_at")
        batch_op.drop_index("ix_mca_call_audit_app_called")
    op.drop_table("mca_call_audit")
    op.drop_table("mca_app")
