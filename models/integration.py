"""The external-system call log (read by the two-way interaction trace, C3.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from integrations.http import CallRecord
from models.base import UTCDateTime, db
from models.process import BigId


class IntegrationCall(db.Model):
    """One call to or from an external system: digests only, never clear personal data."""

    __tablename__ = "integration_call"
    __table_args__ = (
        Index("ix_integration_call_system_at", "system", "at"),
        Index("ix_integration_call_business_key", "business_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))  # outbound | inbound
    business_key: Mapped[str | None] = mapped_column(String(120))
    request_sm3: Mapped[str] = mapped_column(String(64))
    response_sm3: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(40))
    http_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    @staticmethod
    def row(record: CallRecord) -> dict[str, Any]:
        """Column values for a call record."""
        return {
            "system": record.system,
            "operation": record.operation,
            "direction": record.direction,
            "business_key": record.business_key,
            "request_sm3": record.request_sm3,
            "response_sm3": record.response_sm3,
            "status": record.status[:40],
            "http_status": record.http_status,
            "latency_ms": record.latency_ms,
            "attempts": record.attempts,
            "error": (record.error or None) and record.error[:2000],
            "at": record.at,
        }

    @classmethod
    def from_record(cls, record: CallRecord) -> IntegrationCall:
        """A new row for a call record."""
        return cls(**cls.row(record))
