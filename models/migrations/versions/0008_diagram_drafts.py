"""diagram drafts: analysts' unpublished BPMN/DMN edits (issue 6)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the diagram_draft table."""
    op.create_table(
        "diagram_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("base_definition_id", sa.Integer(), nullable=True),
        sa.Column("source_xml", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=True),
        sa.Column("published_definition_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_definition_id"],
            ["process_definition.id"],
            name=op.f("fk_diagram_draft_base_definition_id_process_definition"),
        ),
        sa.ForeignKeyConstraint(
            ["published_definition_id"],
            ["process_definition.id"],
            name=op.f("fk_diagram_draft_published_definition_id_process_definition"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagram_draft")),
    )
    with op.batch_alter_table("diagram_draft", schema=None) as batch_op:
        batch_op.create_index("ix_diagram_draft_open", ["kind", "key", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_diagram_draft_author"), ["author"], unique=False)


def downgrade() -> None:
    """Drop the diagram_draft table."""
    with op.batch_alter_table("diagram_draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diagram_draft_author"))
        batch_op.drop_index("ix_diagram_draft_open")
    op.drop_table("diagram_draft")
