"""Case scope: which districts a case belongs to and a blind index of its subject's ID number (issue 6).

Derived from the case data once, so inbox queries can enforce a clerk's district and search by ID number
without reading workflow snapshots. One row per (case, district); a case whose district is unknown has one
row with district NULL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow
from models.process import BigId
from models.protection import INDEX_LENGTH


class CaseScope(db.Model):
    """One district a case belongs to (by service point, residence address or move-in district)."""

    __tablename__ = "case_scope"
    __table_args__ = (
        UniqueConstraint("instance_id", "district", name="uq_case_scope_district"),
        Index("ix_case_scope_district", "district", "instance_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # CASCADE: cleaning instances (tests, retention) takes their scope rows along.
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    district: Mapped[str | None] = mapped_column(String(32))
    service_point: Mapped[str | None] = mapped_column(String(40))  # where the case was submitted, if at a point
    # Blind index ("key_id$HMAC-SM3") of the subject's ID number: searchable without storing the number.
    id_index: Mapped[str | None] = mapped_column(String(INDEX_LENGTH), index=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
