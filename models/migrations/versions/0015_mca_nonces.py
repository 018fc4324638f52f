"""MCA nonces across processes, submission uniqueness, the MCA call-audit MAC chain (findings 10, 13, 18)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create mca_nonce, mca_audit_head, mca_audit_checkpoint; chain columns; one submission per app+instance."""
    op.create_table(
        "mca_nonce",
        sa.Column("nonce_key", sa.String(length=160), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce_key", name=op.f("pk_mca_nonce")),
    )
    op.create_index(op.f("ix_mca_nonce_expires_at"), "mca_nonce", ["expires_at"])
    op.create_table(
        "mca_audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", BIG_ID, nullable=False),
        sa.Column("last_mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mca_audit_head")),
    )
    op.execute("INSERT INTO mca_audit_head (id, seq, last_mac) VALUES (1, 0, '')")
    op.create_table(
        "mca_audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("through_seq", BIG_ID, nullable=False),
        sa.Column("through_mac", sa.String(length=64), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mca_audit_checkpoint")),
    )
    with op.batch_alter_table("mca_call_audit") as batch:
        batch.add_column(sa.Column("seq", BIG_ID, nullable=True))
        batch.add_column(sa.Column("prev_mac", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("key_id", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f("uq_mca_call_audit_seq"), ["seq"])
    with op.batch_alter_table("mca_submission") as batch:
        batch.create_unique_constraint("uq_mca_submission_app_instance", ["app_id", "instance_id"])


def downgrade() -> None:
    """Drop what upgrade created."""
    with op.batch_alter_table("mca_submission") as batch:
        batch.drop_constraint("uq_mca_submission_app_instance", type_="unique")
    with op.batch_alter_table("mca_call_audit") as batch:
        batch.drop_constraint(op.f("uq_mca_call_audit_seq"), type_="unique")
        for name in ("key_id", "mac", "prev_mac", "seq"):
            batch.drop_column(name)
    op.drop_table("mca_audit_checkpoint")
    op.drop_table("mca_audit_head")
    op.drop_index(op.f("ix_mca_nonce_expires_at"), table_name="mca_nonce")
    op.drop_table("mca_nonce")
