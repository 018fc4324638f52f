"""MCA 3.0 interface (B1): registered caller apps, the append-only call audit, and submissions by person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow
from models.process import BigId
from models.protection import INDEX_LENGTH


class McaApp(db.Model):
    """A caller app of the civil-affairs platform: its SM2 public key and the channel it acts as."""

    __tablename__ = "mca_app"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    public_key_pem: Mapped[str] = mapped_column(Text)
    # A channel_client code (no foreign key: the app row outlives a re-created channel client).
    channel_code: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class McaCallAudit(db.Model):
    """One MCA 3.0 call: who, which interface, when, result, latency, digests, signature outcome (B1, S4)."""

    __tablename__ = "mca_call_audit"
    __table_args__ = (
        Index("ix_mca_call_audit_app_called", "app_id", "called_at"),
        Index("ix_mca_call_audit_called_at", "called_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    called_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    app_id: Mapped[str] = mapped_column(String(64))  # as claimed by the caller (also when unknown)
    interface_code: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(String(64))
    http_status: Mapped[int] = mapped_column(Integer)
    result_code: Mapped[str] = mapped_column(String(64))
    latency_ms: Mapped[int] = mapped_column(Integer)
    request_sm3: Mapped[str] = mapped_column(String(64))  # SM3 of the raw request body (ciphertext envelope)
    response_sm3: Mapped[str] = mapped_column(String(64))  # SM3 of the raw response body
    # valid | invalid | not_checked (refused before the signature could be checked)
    signature_result: Mapped[str] = mapped_column(String(16))
    business_key: Mapped[str | None] = mapped_column(String(120))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    # The MAC chain (HMAC-SM3, "audit-mac" key): seq orders the chain, mac covers the fields and prev_mac.
    seq: Mapped[int | None] = mapped_column(BigId, unique=True)
    prev_mac: Mapped[str | None] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(64))


class McaAuditHead(db.Model):
    """The single row every MCA audit append locks: last sequence number and MAC (detects a cut-off tail)."""

    __tablename__ = "mca_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, default=0)
    last_mac: Mapped[str] = mapped_column(String(64), default="")


class McaAuditCheckpoint(db.Model):
    """Where a purge cut the chain: the last removed row's seq and MAC, so verification starts there."""

    __tablename__ = "mca_audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    through_seq: Mapped[int] = mapped_column(BigId)
    through_mac: Mapped[str] = mapped_column(String(64))
    removed: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))  # over the checkpoint's own fields


class McaNonce(db.Model):
    """A used request nonce (app id + nonce) until it expires: the unique key refuses a replay in any process."""

    __tablename__ = "mca_nonce"

    nonce_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class McaSubmission(db.Model):
    """A process an MCA app started, by SM3 digest of the applicant's ID number (for history queries)."""

    __tablename__ = "mca_submission"
    __table_args__ = (
        Index("ix_mca_submission_person", "person_digest", "process_key"),
        UniqueConstraint("app_id", "instance_id", name="uq_mca_submission_app_instance"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32))
    interface_code: Mapped[str] = mapped_column(String(64))
    process_key: Mapped[str] = mapped_column(String(64))
    business_key: Mapped[str] = mapped_column(String(120))
    instance_id: Mapped[str] = mapped_column(String(64))  # the instance's public id
    person_digest: Mapped[str] = mapped_column(String(INDEX_LENGTH))  # blind index of the ID number
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _refuse_change(mapper, connection, target):
    raise RuntimeError(f"{type(target).__name__} rows are append-only")


# Purging old rows goes through a bulk DELETE (processes.mca.audit.purge), never through the ORM.
event.listen(McaCallAudit, "before_update", _refuse_change)
event.listen(McaCallAudit, "before_delete", _refuse_change)
