"""key management, key-field integrity and field encryption (issue 5: A9, S1)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Encrypted columns grow to hold "field-enc:N$base64(SM4-GCM)"; blind-index columns (HMAC-SM3) take over
exact-match search and uniqueness from the clear ID number; protected tables get their key-field MAC.
Rows that already exist are encrypted, indexed and sealed here, with the app's key provider (run it
through `permitflow db upgrade`, which provides the app context).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.protection.cipher_length(n) for n = 18, 20, 200, 500, 1000 characters (fixed here: migrations never change)
ENC_18, ENC_20, ENC_200, ENC_500, ENC_1000 = 160, 168, 1128, 2728, 5396
INDEX = 100
MAC = 100
SEALED = ("person", "photo", "residence_registration", "permit", "endorsement", "deregistration")
DATA_TABLES = (*SEALED, "sms_message", "sms_block")


def upgrade() -> None:
    """Widen encrypted columns, add blind indexes and MACs, then protect the rows already there."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(False)
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_constraint("uq_person_id_number", type_="unique")
        batch_op.alter_column("id_number", type_=sa.String(ENC_18), existing_nullable=False)
        batch_op.alter_column("mobile", type_=sa.String(ENC_20), existing_nullable=True)
        batch_op.alter_column("household_address", type_=sa.String(ENC_200), existing_nullable=True)
        batch_op.add_column(sa.Column("id_number_bidx", sa.String(INDEX), nullable=True))
        batch_op.add_column(sa.Column("mobile_bidx", sa.String(INDEX), nullable=True))
    with op.batch_alter_table("residence_registration", schema=None) as batch_op:
        batch_op.alter_column("address", type_=sa.String(ENC_200), existing_nullable=False)
    with op.batch_alter_table("permit", schema=None) as batch_op:
        batch_op.alter_column("lost_reported_by", type_=sa.String(ENC_18), existing_nullable=True)
    for table in SEALED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("integrity_mac", sa.String(MAC), nullable=True))
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.alter_column("body", type_=sa.String(ENC_500), existing_type=sa.Text(), existing_nullable=False)
        batch_op.alter_column(
            "params",
            type_=sa.String(ENC_1000),
            existing_type=sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            existing_nullable=False,
            postgresql_using="params::text",
        )
        batch_op.alter_column("params", new_column_name="params_json", existing_nullable=False)
        batch_op.alter_column("mobile", type_=sa.String(ENC_20), existing_nullable=False)
        batch_op.alter_column("mobile_digest", type_=sa.String(INDEX), existing_nullable=False)
        batch_op.alter_column("id_digest", type_=sa.String(INDEX), existing_nullable=True)
    with op.batch_alter_table("sms_block", schema=None) as batch_op:
        batch_op.alter_column("id_number", type_=sa.String(ENC_18), existing_nullable=False)
        batch_op.alter_column("id_digest", type_=sa.String(INDEX), existing_nullable=False)
        batch_op.alter_column("mobile_digest", type_=sa.String(INDEX), existing_nullable=True)

    _protect_existing_rows()

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.alter_column("id_number_bidx", existing_type=sa.String(INDEX), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_person_id_number_bidx"), ["id_number_bidx"])
        batch_op.create_index(batch_op.f("ix_person_mobile_bidx"), ["mobile_bidx"], unique=False)
    if sqlite:
        _sqlite_foreign_keys(True)


def _sqlite_foreign_keys(enabled: bool) -> None:
    # Batch mode re-creates tables that other rows point at (person, permit, ...), which SQLite only allows
    # with foreign keys off; the pragma is ignored inside a transaction, so the one Python's sqlite3 opened
    # for earlier DML is committed first (SQLite DDL here is not transactional anyway). Back on, every
    # reference is checked.
    dbapi = op.get_bind().connection.dbapi_connection
    if dbapi.in_transaction:
        dbapi.commit()
    dbapi.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")
    if enabled:
        broken = dbapi.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration 0005 left broken references: {broken[:5]}")


def _protect_existing_rows() -> None:
    connection = op.get_bind()
    if not any(connection.execute(sa.text(f"SELECT 1 FROM {t} LIMIT 1")).first() for t in DATA_TABLES):
        return  # a new database: nothing to convert, no keys needed
    from flask import has_app_context

    if not has_app_context():
        raise RuntimeError("migration 0005 encrypts existing rows: run it with `permitflow db upgrade`")
    from models.protection import legacy_plaintext
    from processes.keys import protected_models, reprotect

    # Only the tables this revision protects: later revisions protect theirs (e.g. 0007, staff mobiles).
    models = [m for m in protected_models() if m.__table__.name in DATA_TABLES]
    token = legacy_plaintext.set(True)  # the values written so far are clear text
    try:
        results = reprotect(models, connection=connection)
    finally:
        legacy_plaintext.reset(token)
    refused = [(r.table, r.tampered) for r in results if r.tampered]
    if refused:
        raise RuntimeError(f"migration 0005 could not protect rows: {refused}")


def downgrade() -> None:
    """Drop the MACs and blind indexes (encrypted values stay encrypted: decrypt them before downgrading)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(False)
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_mobile_bidx"))
        batch_op.drop_constraint(batch_op.f("uq_person_id_number_bidx"), type_="unique")
        batch_op.drop_column("mobile_bidx")
        batch_op.drop_column("id_number_bidx")
        batch_op.create_unique_constraint("uq_person_id_number", ["id_number"])
    for table in SEALED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("integrity_mac")
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.alter_column("params_json", new_column_name="params", existing_nullable=False)
    if sqlite:
        _sqlite_foreign_keys(True)
