"""Diagram drafts: an analyst's unpublished edit of a BPMN process or DMN decision file (issue 6)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow


class DiagramDraft(db.Model):
    """One analyst's working copy of a diagram; published drafts are kept as a record of who changed what."""

    __tablename__ = "diagram_draft"
    __table_args__ = (Index("ix_diagram_draft_open", "kind", "key", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # bpmn | dmn
    key: Mapped[str] = mapped_column(String(120))  # process id / DMN definitions id it will publish as
    file_name: Mapped[str] = mapped_column(String(200))
    base_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    source_xml: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64), index=True)
    # open → submitted (awaiting another analyst's review) → published; a rejection returns it to open.
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | submitted | published | discarded
    problems: Mapped[int | None] = mapped_column(Integer)  # problems at the last validation; None: not validated
    published_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    # Four-eyes publication: who asked to publish what (the SM3 of the exact XML) and who reviewed it.
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submit_comment: Mapped[str | None] = mapped_column(String(500))
    submitted_checksum: Mapped[str | None] = mapped_column(String(64))
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<DiagramDraft {self.kind}:{self.key} by {self.author} {self.status}>"
