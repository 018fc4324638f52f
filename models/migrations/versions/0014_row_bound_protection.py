"""row-bound field protection; the SMS block list sealed (review findings 3 and 23)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29

Key-field MACs now cover the row id and every encrypted value's SM4-GCM associated data is "label#row id",
so protected fields (with their MAC) or ciphertexts copied onto another row no longer check out. sms_block
gets its MAC column. Rows that already exist are re-encrypted and re-sealed for their row here — only rows
whose old (unbound) MAC and ciphertexts verify; a tampered row is refused, never laundered — with the app's
key provider (run it through `permitflow db upgrade`, which provides the app context).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAC = 100  # models.protection.MAC_LENGTH
FIRST_SEALED = ("sms_block",)  # tables whose rows get their first MAC here


def upgrade() -> None:
    """Add sms_block.integrity_mac, then bind every protected row's ciphertexts and MAC to its id."""
    with op.batch_alter_table("sms_block", schema=None) as batch_op:
        batch_op.add_column(sa.Column("integrity_mac", sa.String(MAC), nullable=True))
    _reprotect_existing_rows()


def _reprotect_existing_rows() -> None:
    from processes.keys import protected_models

    connection = op.get_bind()
    tables = set(sa.inspect(connection).get_table_names())
    models = [m for m in protected_models() if m.__table__.name in tables]
    if not any(connection.execute(sa.select(m.__table__.c.id).limit(1)).first() for m in models):
        return  # a new database: nothing to re-protect, no keys needed
    from flask import has_app_context

    if not has_app_context():
        raise RuntimeError("migration 0014 re-encrypts existing rows: run it with `permitflow db upgrade`")
    from models.protection import legacy_unbound
    from processes.keys import reprotect

    token = legacy_unbound.set(True)  # the values and MACs written so far are bound to their column only
    try:
        results = reprotect(models, connection=connection, first_seal=FIRST_SEALED)
    finally:
        legacy_unbound.reset(token)
    refused = [(r.table, r.tampered[:5]) for r in results if r.tampered]
    if refused:
        raise RuntimeError(f"migration 0014 refuses to re-seal rows that fail their check: {refused}")


def downgrade() -> None:
    """Drop sms_block.integrity_mac (values and MACs stay bound to their rows: restore a backup to go back)."""
    with op.batch_alter_table("sms_block", schema=None) as batch_op:
        batch_op.drop_column("integrity_mac")
