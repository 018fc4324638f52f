"""SMS tables (B2, B3): templates, messages with their status history, and the block list (死亡表/短信禁发表)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from models.base import JSONType, UTCDateTime, db, utcnow
from models.process import BigId, _refuse_change


class SmsTemplate(db.Model):
    """A business message template, edited by administrators; `code` is the one registered at the platform."""

    __tablename__ = "sms_template"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)  # with {placeholder} names, at most 300 characters
    placeholders: Mapped[list[str]] = mapped_column(JSONType, default=list)  # the allowed names
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # two administrators saving at once: the second gets 409


class SmsMessage(db.Model):
    """One requested message. Personal data: the mobile (clear until issue 5 encrypts it) and the body."""

    __tablename__ = "sms_message"
    __table_args__ = (Index("ix_sms_message_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_msg_id: Mapped[str] = mapped_column(String(64), unique=True)  # our idempotency id at the platform
    dedupe_digest: Mapped[str | None] = mapped_column(String(64), unique=True)  # the caller's dedupe key, hashed
    template_code: Mapped[str] = mapped_column(String(40))
    template_version: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    body: Mapped[str] = mapped_column(Text)
    mobile: Mapped[str] = mapped_column(String(20))
    mobile_masked: Mapped[str] = mapped_column(String(20))
    mobile_digest: Mapped[str] = mapped_column(String(64), index=True)
    id_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    business_key: Mapped[str | None] = mapped_column(String(120), index=True)
    status: Mapped[str] = mapped_column(String(16))  # queued | sent | delivered | failed | blocked
    status_reason: Mapped[str | None] = mapped_column(String(200))
    platform_msg_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    poll_after: Mapped[datetime | None] = mapped_column(UTCDateTime)  # next delivery-report poll, while awaited
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # delivered, failed or blocked


class SmsStatusEvent(db.Model):
    """Append-only history of a message: each status it took, and why."""

    __tablename__ = "sms_status_event"
    __table_args__ = (Index("ix_sms_status_event_message", "message_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("sms_message.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # request | job | callback | poll
    reason: Mapped[str | None] = mapped_column(String(200))


class SmsBlock(db.Model):
    """A person who must never receive SMS (B3), e.g. from the population office's death list (C1.3)."""

    __tablename__ = "sms_block"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18))  # clear until issue 5 encrypts it; matched by digest
    id_digest: Mapped[str] = mapped_column(String(64), unique=True)
    mobile_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # deceased | …
    source: Mapped[str] = mapped_column(String(32))  # death_list | import | manual
    batch_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


event.listen(SmsStatusEvent, "before_update", _refuse_change)
event.listen(SmsStatusEvent, "before_delete", _refuse_change)
