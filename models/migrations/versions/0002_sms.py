"""sms: templates, messages, status history, block list (B2, B3)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
APPEND_ONLY_TABLE = "sms_status_event"


def upgrade() -> None:
    """Create the SMS tables; on PostgreSQL make the status history append-only (function from 0001)."""
    op.create_table(
        "sms_block",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("id_digest", sa.String(length=64), nullable=False),
        sa.Column("mobile_digest", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("batch_ref", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_block")),
        sa.UniqueConstraint("id_digest", name=op.f("uq_sms_block_id_digest")),
    )
    with op.batch_alter_table("sms_block", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_block_batch_ref"), ["batch_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_block_mobile_digest"), ["mobile_digest"], unique=False)

    op.create_table(
        "sms_message",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("client_msg_id", sa.String(length=64), nullable=False),
        sa.Column("dedupe_digest", sa.String(length=64), nullable=True),
        sa.Column("template_code", sa.String(length=40), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mobile", sa.String(length=20), nullable=False),
        sa.Column("mobile_masked", sa.String(length=20), nullable=False),
        sa.Column("mobile_digest", sa.String(length=64), nullable=False),
        sa.Column("id_digest", sa.String(length=64), nullable=True),
        sa.Column("business_key", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=200), nullable=True),
        sa.Column("platform_msg_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("poll_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_message")),
        sa.UniqueConstraint("client_msg_id", name=op.f("uq_sms_message_client_msg_id")),
        sa.UniqueConstraint("dedupe_digest", name=op.f("uq_sms_message_dedupe_digest")),
    )
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_message_business_key"), ["business_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_message_id_digest"), ["id_digest"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_message_mobile_digest"), ["mobile_digest"], unique=False)
        batch_op.create_index("ix_sms_message_status", ["status", "id"], unique=False)

    op.create_table(
        "sms_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("placeholders", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_template")),
        sa.UniqueConstraint("code", name=op.f("uq_sms_template_code")),
    )

    op.create_table(
        "sms_status_event",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("message_id", BIG_ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["sms_message.id"], name=op.f("fk_sms_status_event_message_id_sms_message")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_status_event")),
    )
    with op.batch_alter_table("sms_status_event", schema=None) as batch_op:
        batch_op.create_index("ix_sms_status_event_message", ["message_id", "id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {APPEND_ONLY_TABLE}_append_only BEFORE UPDATE OR DELETE ON {APPEND_ONLY_TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION permitflow_append_only()"
        )


def downgrade() -> None:
    """Drop the SMS tables (and the append-only trigger)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {APPEND_ONLY_TABLE}_append_only ON {APPEND_ONLY_TABLE}")

    with op.batch_alter_table("sms_status_event", schema=None) as batch_op:
        batch_op.drop_index("ix_sms_status_event_message")

    op.drop_table("sms_status_event")
    op.drop_table("sms_template")
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.drop_index("ix_sms_message_status")
        batch_op.drop_index(batch_op.f("ix_sms_message_mobile_digest"))
        batch_op.drop_index(batch_op.f("ix_sms_message_id_digest"))
        batch_op.drop_index(batch_op.f("ix_sms_message_business_key"))

    op.drop_table("sms_message")
    with op.batch_alter_table("sms_block", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_block_mobile_digest"))
        batch_op.drop_index(batch_op.f("ix_sms_block_batch_ref"))

    op.drop_table("sms_block")
