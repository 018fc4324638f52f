"""four-eyes publication of diagram drafts: submitted by one analyst, reviewed by another

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("submitted_by", sa.String(length=64)),
    ("submitted_at", sa.DateTime(timezone=True)),
    ("submit_comment", sa.String(length=500)),
    ("submitted_checksum", sa.String(length=64)),
    ("reviewed_by", sa.String(length=64)),
    ("reviewed_at", sa.DateTime(timezone=True)),
    ("review_note", sa.String(length=500)),
)


def upgrade() -> None:
    """Add the submission and review columns to diagram_draft."""
    with op.batch_alter_table("diagram_draft", schema=None) as batch_op:
        for name, column_type in COLUMNS:
            batch_op.add_column(sa.Column(name, column_type, nullable=True))


def downgrade() -> None:
    """Drop the submission and review columns."""
    with op.batch_alter_table("diagram_draft", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
