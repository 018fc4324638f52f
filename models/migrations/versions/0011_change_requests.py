"""change requests, death-list imports, rare characters (issue 7; owned by the changes helper)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from models.protection import INDEX_LENGTH, cipher_length

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DATA = cipher_length(4000)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create change_request, death_list_import, death_list_row and rare_character."""
    op.create_table(
        "change_request",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("change_type", sa.String(length=40), nullable=False),
        sa.Column("business_group", sa.String(length=20), nullable=False),
        sa.Column("levels", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("person_id", BIG_ID, nullable=True),
        sa.Column("fields_data", sa.String(length=DATA), nullable=False),
        sa.Column("before_data", sa.String(length=DATA), nullable=True),
        sa.Column("after_data", sa.String(length=DATA), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("attachments", JSON, nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("submitted_role", sa.String(length=32), nullable=False),
        sa.Column("instance_id", BIG_ID, nullable=True),
        sa.Column("instance_token", sa.String(length=64), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("outcome_note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_request")),
        sa.UniqueConstraint("number", name=op.f("uq_change_request_number")),
    )
    with op.batch_alter_table("change_request", schema=None) as batch_op:
        batch_op.create_index("ix_change_request_type_status", ["change_type", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_request_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_request_target"), ["target"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_request_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_request_submitted_by"), ["submitted_by"], unique=False)

    op.create_table(
        "death_list_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_ref", sa.String(length=40), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("file_sm3", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("bad_rows", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("request_number", sa.String(length=32), nullable=True),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_death_list_import")),
        sa.UniqueConstraint("batch_ref", name=op.f("uq_death_list_import_batch_ref")),
    )
    with op.batch_alter_table("death_list_import", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_death_list_import_status"), ["status"], unique=False)

    op.create_table(
        "death_list_row",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("id_number", sa.String(length=cipher_length(40)), nullable=True),
        sa.Column("id_number_bidx", sa.String(length=INDEX_LENGTH), nullable=True),
        sa.Column("name", sa.String(length=60), nullable=True),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("problems", JSON, nullable=False),
        sa.Column("person_id", BIG_ID, nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_death_list_row")),
    )
    with op.batch_alter_table("death_list_row", schema=None) as batch_op:
        batch_op.create_index("ix_death_list_row_import", ["import_id", "row_no"], unique=False)
        batch_op.create_index(batch_op.f("ix_death_list_row_id_number_bidx"), ["id_number_bidx"], unique=False)

    op.create_table(
        "rare_character",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("character", sa.String(length=4), nullable=False),
        sa.Column("codepoint", sa.String(length=12), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("glyph", JSON, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_number", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rare_character")),
        sa.UniqueConstraint("character", name=op.f("uq_rare_character_character")),
    )


def downgrade() -> None:
    """Drop the four tables."""
    op.drop_table("rare_character")
    with op.batch_alter_table("death_list_row", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_death_list_row_id_number_bidx"))
        batch_op.drop_index("ix_death_list_row_import")
    op.drop_table("death_list_row")
    with op.batch_alter_table("death_list_import", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_death_list_import_status"))
    op.drop_table("death_list_import")
    with op.batch_alter_table("change_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_request_submitted_by"))
        batch_op.drop_index(batch_op.f("ix_change_request_person_id"))
        batch_op.drop_index(batch_op.f("ix_change_request_target"))
        batch_op.drop_index(batch_op.f("ix_change_request_status"))
        batch_op.drop_index("ix_change_request_type_status")
    op.drop_table("change_request")
