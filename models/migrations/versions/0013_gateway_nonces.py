"""Security-gateway request nonces (finding 15) and background audit-chain checks (finding 21)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create gateway_nonce and audit_verify_run."""
    op.create_table(
        "gateway_nonce",
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_gateway_nonce")),
    )
    op.create_index(op.f("ix_gateway_nonce_expires_at"), "gateway_nonce", ["expires_at"])
    op.create_table(
        "audit_verify_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=True),
        sa.Column("problem_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verify_run")),
    )


def downgrade() -> None:
    """Drop audit_verify_run and gateway_nonce."""
    op.drop_table("audit_verify_run")
    op.drop_index(op.f("ix_gateway_nonce_expires_at"), table_name="gateway_nonce")
    op.drop_table("gateway_nonce")
