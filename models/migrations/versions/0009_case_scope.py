"""case scope: the districts a case belongs to and its subject's ID-number blind index (issue 6, staff UI)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the case_scope table."""
    op.create_table(
        "case_scope",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("instance_id", BIG_ID, nullable=False),
        sa.Column("district", sa.String(length=32), nullable=True),
        sa.Column("service_point", sa.String(length=40), nullable=True),
        sa.Column("id_index", sa.String(length=100), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name=op.f("fk_case_scope_instance_id_process_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_scope")),
        sa.UniqueConstraint("instance_id", "district", name="uq_case_scope_district"),
    )
    with op.batch_alter_table("case_scope", schema=None) as batch_op:
        batch_op.create_index("ix_case_scope_district", ["district", "instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_scope_id_index"), ["id_index"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_scope_instance_id"), ["instance_id"], unique=False)


def downgrade() -> None:
    """Drop the case_scope table."""
    with op.batch_alter_table("case_scope", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_scope_instance_id"))
        batch_op.drop_index(batch_op.f("ix_case_scope_id_index"))
        batch_op.drop_index("ix_case_scope_district")
    op.drop_table("case_scope")
