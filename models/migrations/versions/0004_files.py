"""files: who uploaded which stored binary (DESIGN-NOTES §3)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the uploaded_file table."""
    op.create_table(
        "uploaded_file",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("file_id", sa.String(length=16), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("mime", sa.String(length=40), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel_client.id"], name=op.f("fk_uploaded_file_channel_id_channel_client")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploaded_file")),
        sa.UniqueConstraint("file_id", "uploaded_by", name="uq_uploaded_file_owner"),
    )
    with op.batch_alter_table("uploaded_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_uploaded_file_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_uploaded_file_file_id"), ["file_id"], unique=False)


def downgrade() -> None:
    """Drop the uploaded_file table."""
    with op.batch_alter_table("uploaded_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uploaded_file_file_id"))
        batch_op.drop_index(batch_op.f("ix_uploaded_file_channel_id"))
    op.drop_table("uploaded_file")
