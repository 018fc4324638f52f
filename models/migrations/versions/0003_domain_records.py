"""domain records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table(
        "person",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("gender", sa.String(length=1), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("ethnicity", sa.String(length=20), nullable=True),
        sa.Column("mobile", sa.String(length=20), nullable=True),
        sa.Column("household_address", sa.String(length=200), nullable=True),
        sa.Column("education", sa.String(length=20), nullable=True),
        sa.Column("employer", sa.String(length=100), nullable=True),
        sa.Column("rare_name", sa.Boolean(), nullable=False),
        sa.Column("deceased", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("id_number", name=op.f("uq_person_id_number")),
    )
    op.create_table(
        "production_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_ref", sa.String(length=40), nullable=False),
        sa.Column("factory_batch_id", sa.String(length=60), nullable=True),
        sa.Column("express", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_batch")),
        sa.UniqueConstraint("batch_ref", name=op.f("uq_production_batch_batch_ref")),
    )
    op.create_table(
        "photo",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("mime", sa.String(length=40), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_status", sa.String(length=16), nullable=False),
        sa.Column("review_score", sa.Integer(), nullable=True),
        sa.Column(
            "review_reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_photo_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo")),
    )
    with op.batch_alter_table("photo", schema=None) as batch_op:
        batch_op.create_index("ix_photo_person_taken", ["person_id", "taken_at"], unique=False)

    op.create_table(
        "residence_registration",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("address_code", sa.String(length=40), nullable=True),
        sa.Column("house_id", sa.String(length=40), nullable=True),
        sa.Column("district", sa.String(length=20), nullable=True),
        sa.Column("service_point", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("insured_months", sa.Integer(), nullable=True),
        sa.Column("photo_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name=op.f("fk_residence_registration_instance_id_process_instance"),
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_residence_registration_person_id_person")),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], name=op.f("fk_residence_registration_photo_id_photo")),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["residence_registration.id"],
            name=op.f("fk_residence_registration_previous_id_residence_registration"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residence_registration")),
        sa.UniqueConstraint("number", name=op.f("uq_residence_registration_number")),
    )
    with op.batch_alter_table("residence_registration", schema=None) as batch_op:
        batch_op.create_index("ix_registration_person_status", ["person_id", "status"], unique=False)

    op.create_table(
        "deregistration",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("registration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "notified", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["residence_registration.id"],
            name=op.f("fk_deregistration_registration_id_residence_registration"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deregistration")),
        sa.UniqueConstraint("registration_id", name=op.f("uq_deregistration_registration_id")),
    )
    with op.batch_alter_table("deregistration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deregistration_status"), ["status"], unique=False)

    op.create_table(
        "permit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("registration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("card_status", sa.String(length=16), nullable=False),
        sa.Column("express", sa.Boolean(), nullable=False),
        sa.Column("production_paused", sa.Boolean(), nullable=False),
        sa.Column("expanded_eligibility", sa.Boolean(), nullable=False),
        sa.Column("photo_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pickup", sa.String(length=16), nullable=True),
        sa.Column("waybill_no", sa.String(length=40), nullable=True),
        sa.Column("rare_chars_ready", sa.Boolean(), nullable=False),
        sa.Column("replaces_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lost_reported_by", sa.String(length=18), nullable=True),
        sa.Column("endorsement_due", sa.Date(), nullable=True),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["process_instance.id"], name=op.f("fk_permit_instance_id_process_instance")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_permit_person_id_person")),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], name=op.f("fk_permit_photo_id_photo")),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["residence_registration.id"],
            name=op.f("fk_permit_registration_id_residence_registration"),
        ),
        sa.ForeignKeyConstraint(["replaces_id"], ["permit.id"], name=op.f("fk_permit_replaces_id_permit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit")),
        sa.UniqueConstraint("number", name=op.f("uq_permit_number")),
    )
    with op.batch_alter_table("permit", schema=None) as batch_op:
        batch_op.create_index("ix_permit_person_status", ["person_id", "status"], unique=False)
        batch_op.create_index("ix_permit_valid", ["valid_until"], unique=False)

    op.create_table(
        "endorsement",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("permit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("endorsed_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column(
            "reasons", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["process_instance.id"], name=op.f("fk_endorsement_instance_id_process_instance")
        ),
        sa.ForeignKeyConstraint(["permit_id"], ["permit.id"], name=op.f("fk_endorsement_permit_id_permit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endorsement")),
    )
    with op.batch_alter_table("endorsement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_endorsement_permit_id"), ["permit_id"], unique=False)

    op.create_table(
        "production_item",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("permit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["production_batch.id"], name=op.f("fk_production_item_batch_id_production_batch")
        ),
        sa.ForeignKeyConstraint(["permit_id"], ["permit.id"], name=op.f("fk_production_item_permit_id_permit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_item")),
        sa.UniqueConstraint("batch_id", "permit_id", name="uq_production_item"),
    )
    with op.batch_alter_table("production_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_production_item_permit_id"), ["permit_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("production_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_production_item_permit_id"))

    op.drop_table("production_item")
    with op.batch_alter_table("endorsement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_endorsement_permit_id"))

    op.drop_table("endorsement")
    with op.batch_alter_table("permit", schema=None) as batch_op:
        batch_op.drop_index("ix_permit_valid")
        batch_op.drop_index("ix_permit_person_status")

    op.drop_table("permit")
    with op.batch_alter_table("deregistration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deregistration_status"))

    op.drop_table("deregistration")
    with op.batch_alter_table("residence_registration", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_person_status")

    op.drop_table("residence_registration")
    with op.batch_alter_table("photo", schema=None) as batch_op:
        batch_op.drop_index("ix_photo_person_taken")

    op.drop_table("photo")
    op.drop_table("production_batch")
    op.drop_table("person")
