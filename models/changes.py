"""Change requests (C1/C2): every data modification and business change, its approval and its effect."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import JSONType, UTCDateTime, db, utcnow
from models.process import BigId
from models.protection import Encrypted, blind_index_column

# Requested values and before/after snapshots hold personal data (names, mobiles, addresses): SM4 at rest.
_DATA_CHARS = 4000


def _load(value: str | None) -> dict[str, Any]:
    return json.loads(str(value)) if value else {}


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class ChangeRequest(db.Model):
    """One change request run by the `change_request` approval process (its business key is `number`).

    No foreign keys to business tables: a request outlives (and documents) the rows it changed.
    """

    __tablename__ = "change_request"
    __table_args__ = (Index("ix_change_request_type_status", "change_type", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    change_type: Mapped[str] = mapped_column(String(40))
    business_group: Mapped[str] = mapped_column(String(20))
    levels: Mapped[int] = mapped_column(Integer)  # approval levels required: 1 or 2
    # pending (in approval) | applied | rejected | withdrawn | failed (approved, but could not be applied)
    status: Mapped[str] = mapped_column(String(16), index=True)
    subject: Mapped[str] = mapped_column(String(120))  # what is changed, identifiers masked (for lists)
    target: Mapped[str | None] = mapped_column(String(64), index=True)  # permit/registration/char/import key
    person_id: Mapped[int | None] = mapped_column(BigId, index=True)
    fields_data: Mapped[str] = mapped_column(Encrypted(_DATA_CHARS, "change_request.fields_data"))
    before_data: Mapped[str | None] = mapped_column(Encrypted(_DATA_CHARS, "change_request.before_data"))
    after_data: Mapped[str | None] = mapped_column(Encrypted(_DATA_CHARS, "change_request.after_data"))
    reason: Mapped[str] = mapped_column(String(500))
    attachments: Mapped[list] = mapped_column(JSONType, default=list)  # [{id, sm3, size, mime}] by reference
    submitted_by: Mapped[str] = mapped_column(String(64), index=True)
    submitted_role: Mapped[str] = mapped_column(String(32))
    instance_id: Mapped[int | None] = mapped_column(BigId)
    # SM3 of a random token only the request's own instance holds: another instance naming this request (any
    # channel may start a process) can neither apply nor close it.
    instance_token: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    outcome_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def fields(self) -> dict[str, Any]:
        """The requested values (decrypted)."""
        return _load(self.fields_data)

    @fields.setter
    def fields(self, value: dict[str, Any]) -> None:
        self.fields_data = _dump(value)

    @property
    def before(self) -> dict[str, Any]:
        """The values at submission, which the change must still find when applied."""
        return _load(self.before_data)

    @before.setter
    def before(self, value: dict[str, Any] | None) -> None:
        self.before_data = _dump(value)

    @property
    def after(self) -> dict[str, Any]:
        """The values the change wrote."""
        return _load(self.after_data)

    @after.setter
    def after(self, value: dict[str, Any] | None) -> None:
        self.after_data = _dump(value)


class DeathListImport(db.Model):
    """One uploaded death-list file (C1.3): its validation report and, once approved, the import log."""

    __tablename__ = "death_list_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_ref: Mapped[str] = mapped_column(String(40), unique=True)
    file_name: Mapped[str] = mapped_column(String(200))
    file_sm3: Mapped[str] = mapped_column(String(64))
    # invalid (has bad rows: nothing can be imported) | validated | submitted | imported | rejected
    status: Mapped[str] = mapped_column(String(16), index=True)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    bad_rows: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    request_number: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[dict] = mapped_column(JSONType, default=dict)  # counts of what the import did
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeathListRow(db.Model):
    """One row of a death-list file: what it said, what was wrong with it, what the import did."""

    __tablename__ = "death_list_row"
    __table_args__ = (Index("ix_death_list_row_import", "import_id", "row_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(Integer)
    row_no: Mapped[int] = mapped_column(Integer)  # the spreadsheet row number
    id_number: Mapped[str | None] = mapped_column(Encrypted(40, "death_list_row.id_number", index="id_number_bidx"))
    id_number_bidx: Mapped[str | None] = blind_index_column()
    name: Mapped[str | None] = mapped_column(String(60))
    death_date: Mapped[date | None] = mapped_column(Date)
    problems: Mapped[list] = mapped_column(JSONType, default=list)  # Chinese descriptions; empty = good row
    person_id: Mapped[int | None] = mapped_column(BigId)
    outcome: Mapped[str | None] = mapped_column(String(200))  # what the import did to this person


class RareCharacter(db.Model):
    """A character of the special-character library (C2.2) that card production can print."""

    __tablename__ = "rare_character"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    character: Mapped[str] = mapped_column(String(4), unique=True)
    codepoint: Mapped[str] = mapped_column(String(12))  # U+XXXXX
    description: Mapped[str] = mapped_column(String(200))
    glyph: Mapped[dict | None] = mapped_column(JSONType)  # the glyph image by reference {id, sm3, size, mime}
    status: Mapped[str] = mapped_column(String(16))  # active | retired
    request_number: Mapped[str] = mapped_column(String(32))  # the approved change request that last changed it
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
