"""Sign-in and audit tables: password history, staff sessions, pending sign-ins, the audit log and its chain head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow
from models.process import BigId


class PasswordHistory(db.Model):
    """Earlier password hashes of an account, so the last N cannot be reused."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffSession(db.Model):
    """A server-side staff session: the cookie holds a random token, the row holds its SM3 digest."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    factor: Mapped[str] = mapped_column(String(16))  # sms | ukey | gateway
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(16))  # logout | idle | replaced | admin


class LoginAttempt(db.Model):
    """A sign-in whose password was right and whose second factor is pending (SMS code or UKey nonce)."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    nonce: Mapped[str] = mapped_column(String(64))  # UKey challenge (hex)
    code_digest: Mapped[str | None] = mapped_column(String(64))  # HMAC-SM3 of the SMS code; never the code
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditLog(db.Model):
    """Append-only, tamper-evident audit trail: each row's MAC covers its fields and the previous row's MAC."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_user", "username", "id"),
        Index("ix_audit_log_event", "event", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the trail outlives accounts
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(120))
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON text: exactly the bytes MACed
    request_id: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


class AuditChainHead(db.Model):
    """The single row every audit append locks: the last sequence number and MAC (detects a cut-off tail)."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, default=0)
    last_mac: Mapped[str] = mapped_column(String(64), default="")


def _refuse_change(mapper, connection, target):
    raise RuntimeError(f"{type(target).__name__} rows are append-only")


event.listen(AuditLog, "before_update", _refuse_change)
event.listen(AuditLog, "before_delete", _refuse_change)


class GatewayNonce(db.Model):
    """A security-gateway request nonce seen recently (S3 replay protection without Redis): the primary key
    refuses a second use in any process; rows past expires_at are purged."""

    __tablename__ = "gateway_nonce"

    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditVerifyRun(db.Model):
    """One background check of the audit hash chain started from /audit: progress while it runs, then the result."""

    __tablename__ = "audit_verify_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requested_by: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    checked: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[str | None] = mapped_column(Text)  # JSON list of {seq, id, code, message} (first 200)
    problem_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
