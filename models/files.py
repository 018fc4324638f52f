"""Uploaded files: who uploaded which stored binary (the bytes live in the file store, keyed by SM3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow
from models.process import BigId


class UploadedFile(db.Model):
    """One uploader's claim on a stored file; the same bytes uploaded twice by one uploader are one row."""

    __tablename__ = "uploaded_file"
    __table_args__ = (UniqueConstraint("file_id", "uploaded_by", name="uq_uploaded_file_owner"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    file_id: Mapped[str] = mapped_column(String(16), index=True)  # the public id: the SM3 digest's first 16 hex
    sm3: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(40))
    uploaded_by: Mapped[str] = mapped_column(String(64))  # the actor's name, e.g. channel:suishenban
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel_client.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def reference(self) -> dict[str, str | int]:
        """What workflow data keeps instead of the bytes: {id, sm3, size, mime}."""
        return {"id": self.file_id, "sm3": self.sm3, "size": self.size, "mime": self.mime}
