"""SMS tables (B2, B3): templates, messages with their status history, and the block list (死亡表/短信禁发表)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from models.base import JSONType, UTCDateTime, db, utcnow
from models.process import BigId, _refuse_change
from models.protection import INDEX_LENGTH, Encrypted, FieldProtection, Protected

PARAMS_CHARS = 1000  # the placeholders of a ≤ 300-character message, as JSON


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


class SmsMessage(FieldProtection, db.Model):
    """One requested message. Personal data, SM4-encrypted at rest: the mobile, the body and the params."""

    __tablename__ = "sms_message"
    __table_args__ = (Index("ix_sms_message_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_msg_id: Mapped[str] = mapped_column(String(64), unique=True)  # our idempotency id at the platform
    dedupe_digest: Mapped[str | None] = mapped_column(String(64), unique=True)  # the caller's dedupe key, hashed
    template_code: Mapped[str] = mapped_column(String(40))
    template_version: Mapped[int] = mapped_column(Integer)
    # The template's values (names, permit numbers, one-time sign-in codes): JSON, SM4-encrypted at rest.
    params_json: Mapped[str] = mapped_column(Encrypted(PARAMS_CHARS, "sms_message.params_json"), default="{}")
    body: Mapped[str] = mapped_column(Encrypted(500, "sms_message.body"))
    mobile: Mapped[str] = mapped_column(Encrypted(20, "sms_message.mobile", index="mobile_digest"))
    mobile_masked: Mapped[str] = mapped_column(String(20))
    mobile_digest: Mapped[str] = mapped_column(String(INDEX_LENGTH), index=True)  # blind index (HMAC-SM3)
    id_digest: Mapped[str | None] = mapped_column(String(INDEX_LENGTH), index=True)  # blind index of the ID number
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

    @property
    def params(self) -> dict[str, Any]:
        """The template values, decrypted."""
        return json.loads(str(self.params_json)) if self.params_json else {}

    @params.setter
    def params(self, value: dict[str, Any]) -> None:
        self.params_json = json.dumps(value, ensure_ascii=False, sort_keys=True)


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


class SmsBlock(Protected, db.Model):
    """A person who must never receive SMS (B3), e.g. from the population office's death list (C1.3).

    Sealed (S1): an entry quietly edited in the database (another person's ID number, a different reason or
    source) fails its MAC and is reported by `permitflow integrity check`.
    """

    __tablename__ = "sms_block"
    __protected__ = ("id_number", "mobile_digest", "reason", "source", "batch_ref", "created_by", "created_at")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_number: Mapped[str] = mapped_column(Encrypted(18, "sms_block.id_number", index="id_digest"))
    id_digest: Mapped[str] = mapped_column(String(INDEX_LENGTH), unique=True)  # blind index of id_number
    mobile_digest: Mapped[str | None] = mapped_column(String(INDEX_LENGTH), index=True)  # blind index
    reason: Mapped[str] = mapped_column(String(32))  # deceased | …
    source: Mapped[str] = mapped_column(String(32))  # death_list | import | manual
    batch_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


event.listen(SmsStatusEvent, "before_update", _refuse_change)
event.listen(SmsStatusEvent, "before_delete", _refuse_change)
