"""staff accounts, sign-in factors, sessions and the audit log (issue 6; owned by the auth helper)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
ENC_20, INDEX = 168, 100  # models.protection: cipher_length(20) and the blind-index length (fixed here)
# The audit log refuses UPDATE and DELETE in the database itself, whatever the client (function from 0001).
PG_TRIGGER = (
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION permitflow_append_only()"
)
PG_TRUNCATE_TRIGGER = (
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION permitflow_append_only()"
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)


def upgrade() -> None:
    """Sign-in columns on app_user; password history, sessions, pending sign-ins; the audit log and chain head."""
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_changed_at", TS, nullable=True))
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("locked_until", TS, nullable=True))
        batch_op.add_column(sa.Column("last_login_at", TS, nullable=True))
        batch_op.add_column(sa.Column("ukey_public_key", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ukey_fingerprint", sa.String(length=64), nullable=True))
        # Rows from before this revision have no MAC and are refused at sign-in until an administrator resets them.
        batch_op.add_column(sa.Column("auth_mac", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_app_user_ukey_fingerprint"), ["ukey_fingerprint"], unique=False)
        # Staff mobiles are personal data: SM4-encrypted like the applicants', found through a blind index.
        batch_op.alter_column("mobile", type_=sa.String(ENC_20), existing_nullable=True)
        batch_op.add_column(sa.Column("mobile_bidx", sa.String(INDEX), nullable=True))
        batch_op.create_index(batch_op.f("ix_app_user_mobile_bidx"), ["mobile_bidx"], unique=False)
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        # The defaults only filled existing rows; the models set the values from now on.
        batch_op.alter_column("must_change_password", server_default=None)
        batch_op.alter_column("failed_logins", server_default=None)
    _encrypt_existing_mobiles()

    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_password_history_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    op.create_index(op.f("ix_password_history_user_id"), "password_history", ["user_id"], unique=False)

    op.create_table(
        "staff_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("factor", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_staff_session_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_session")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_staff_session_token_digest")),
    )
    op.create_index(op.f("ix_staff_session_user_id"), "staff_session", ["user_id"], unique=False)

    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", TS, nullable=True),
        sa.Column("code_sent_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_login_attempt_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_login_attempt_token_digest")),
    )
    op.create_index(op.f("ix_login_attempt_user_id"), "login_attempt", ["user_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("seq", BIG_ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=120), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("prev_mac", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_log_seq")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_event", "audit_log", ["event", "id"], unique=False)
    op.create_index("ix_audit_log_user", "audit_log", ["username", "id"], unique=False)

    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", BIG_ID, nullable=False),
        sa.Column("last_mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "last_mac": ""}])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_TRIGGER)
        op.execute(PG_TRUNCATE_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def _encrypt_existing_mobiles() -> None:
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT 1 FROM app_user WHERE mobile IS NOT NULL LIMIT 1")).first() is None:
        return
    from flask import has_app_context

    if not has_app_context():
        raise RuntimeError("migration 0007 encrypts staff mobiles: run it with `permitflow db upgrade`")
    from models import AppUser
    from models.protection import legacy_plaintext
    from processes.keys import reprotect

    token = legacy_plaintext.set(True)  # the mobiles written so far are clear text
    try:
        reprotect([AppUser], connection=connection)
    finally:
        legacy_plaintext.reset(token)


def downgrade() -> None:
    """Drop the sign-in and audit tables and columns."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.drop_table("audit_chain_head")
    op.drop_index("ix_audit_log_user", table_name="audit_log")
    op.drop_index("ix_audit_log_event", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_login_attempt_user_id"), table_name="login_attempt")
    op.drop_table("login_attempt")
    op.drop_index(op.f("ix_staff_session_user_id"), table_name="staff_session")
    op.drop_table("staff_session")
    op.drop_index(op.f("ix_password_history_user_id"), table_name="password_history")
    op.drop_table("password_history")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_ukey_fingerprint"))
        batch_op.drop_index(batch_op.f("ix_app_user_mobile_bidx"))
        for column in (
            "mobile_bidx",
            "auth_mac",
            "ukey_fingerprint",
            "ukey_public_key",
            "last_login_at",
            "locked_until",
            "failed_logins",
            "must_change_password",
            "password_changed_at",
        ):
            batch_op.drop_column(column)
