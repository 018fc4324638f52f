"""The residence business records: persons, photos, registrations, permits, endorsements, production."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import JSONType, UTCDateTime, db, utcnow
from models.process import BigId
from models.protection import Encrypted, Protected, blind_index_column


class Person(Protected, db.Model):
    """An applicant, identified by the resident ID number (encrypted; found through its blind index)."""

    __tablename__ = "person"
    __protected__ = (
        "id_number",
        "name",
        "gender",
        "birth_date",
        "ethnicity",
        "mobile",
        "household_address",
        "deceased",
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    id_number: Mapped[str] = mapped_column(Encrypted(18, "person.id_number", index="id_number_bidx"))
    id_number_bidx: Mapped[str] = blind_index_column(unique=True)
    name: Mapped[str] = mapped_column(String(60))
    gender: Mapped[str] = mapped_column(String(1))  # M | F
    birth_date: Mapped[date] = mapped_column(Date)
    ethnicity: Mapped[str | None] = mapped_column(String(20))
    mobile: Mapped[str | None] = mapped_column(Encrypted(20, "person.mobile", index="mobile_bidx"))
    mobile_bidx: Mapped[str | None] = blind_index_column()
    household_address: Mapped[str | None] = mapped_column(Encrypted(200, "person.household_address"))
    education: Mapped[str | None] = mapped_column(String(20))  # general information (A0 change)
    employer: Mapped[str | None] = mapped_column(String(100))
    rare_name: Mapped[bool] = mapped_column(Boolean, default=False)  # needs the special character library
    deceased: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Photo(Protected, db.Model):
    """A portrait; the binary lives in the file store, the row keeps its digest (A4: history kept)."""

    __tablename__ = "photo"
    __table_args__ = (Index("ix_photo_person_taken", "person_id", "taken_at"),)
    __protected__ = ("person_id", "source", "sm3", "size", "mime", "storage_key", "taken_at", "review_status")

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    source: Mapped[str] = mapped_column(String(20))  # counter | social_security | retake | channel
    sm3: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(40))
    storage_key: Mapped[str] = mapped_column(String(200))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    review_status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | passed | failed
    review_score: Mapped[int | None] = mapped_column(Integer)
    review_reasons: Mapped[list] = mapped_column(JSONType, default=list)


class ResidenceRegistration(Protected, db.Model):
    """A residence registration (居住登记); one active registration per person."""

    __tablename__ = "residence_registration"
    __table_args__ = (Index("ix_registration_person_status", "person_id", "status"),)
    __protected__ = (
        "number",
        "person_id",
        "status",
        "address",
        "address_code",
        "house_id",
        "district",
        "registered_on",
        "valid_until",
        "photo_id",
        "previous_id",
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    status: Mapped[str] = mapped_column(String(16))  # active | deregistered | rejected | superseded
    address: Mapped[str] = mapped_column(Encrypted(200, "residence_registration.address"))
    address_code: Mapped[str | None] = mapped_column(String(40))
    house_id: Mapped[str | None] = mapped_column(String(40))
    district: Mapped[str | None] = mapped_column(String(20))
    service_point: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(32))
    registered_on: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    insured_months: Mapped[int | None] = mapped_column(Integer)  # HRSS consecutive months at registration (A1)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An address change supersedes the registration with a new one pointing back here (history kept).
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("residence_registration.id"))


class Permit(Protected, db.Model):
    """A residence permit (居住证) and its card."""

    __tablename__ = "permit"
    __table_args__ = (Index("ix_permit_person_status", "person_id", "status"), Index("ix_permit_valid", "valid_until"))
    __protected__ = (
        "number",
        "person_id",
        "registration_id",
        "status",
        "card_status",
        "photo_id",
        "valid_from",
        "valid_until",
        "issued_at",
        "replaces_id",
        "lost_at",
        "lost_reported_by",
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("residence_registration.id"))
    # applying | approved | producing | issued | lost | cancelled | voided
    status: Mapped[str] = mapped_column(String(16))
    card_status: Mapped[str] = mapped_column(String(16), default="none")  # none | queued | made | failed | delivered
    express: Mapped[bool] = mapped_column(Boolean, default=False)
    production_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    expanded_eligibility: Mapped[bool] = mapped_column(Boolean, default=False)  # A1: insurance waived the wait
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id"))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pickup: Mapped[str | None] = mapped_column(String(16))  # post | counter
    waybill_no: Mapped[str | None] = mapped_column(String(40))  # postal delivery (B1.16)
    rare_chars_ready: Mapped[bool] = mapped_column(Boolean, default=False)  # name's rare characters in the font
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("permit.id"))  # reissue / wrong-card reset
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 挂失
    lost_reported_by: Mapped[str | None] = mapped_column(
        Encrypted(18, "permit.lost_reported_by")
    )  # only this person may cancel the loss
    # The valid_until an A7 endorsement run was started for: the daily selection never starts it twice.
    endorsement_due: Mapped[date | None] = mapped_column(Date)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Endorsement(Protected, db.Model):
    """A yearly endorsement (签注) extending a permit's validity."""

    __tablename__ = "endorsement"
    __protected__ = ("permit_id", "kind", "endorsed_on", "valid_until", "decided_by")

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("permit.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # auto | counter | reissue
    endorsed_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    decided_by: Mapped[str] = mapped_column(String(64))
    reasons: Mapped[list] = mapped_column(JSONType, default=list)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProductionBatch(db.Model):
    """A card-production batch exported to the card factory."""

    __tablename__ = "production_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_ref: Mapped[str] = mapped_column(String(40), unique=True)
    factory_batch_id: Mapped[str | None] = mapped_column(String(60))
    express: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))  # exported | imported
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProductionItem(db.Model):
    """One permit in a production batch and its result."""

    __tablename__ = "production_item"
    __table_args__ = (UniqueConstraint("batch_id", "permit_id", name="uq_production_item"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("production_batch.id"))
    permit_id: Mapped[int] = mapped_column(ForeignKey("permit.id"), index=True)
    result: Mapped[str] = mapped_column(String(16), default="pending")  # pending | made | failed
    reason: Mapped[str | None] = mapped_column(String(200))


class Deregistration(Protected, db.Model):
    """A registration deregistration (A3) and whom it was notified to."""

    __tablename__ = "deregistration"
    __protected__ = ("registration_id", "reason", "source", "status")

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("residence_registration.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(20))  # request | deceased | moved_away | superseded | expired
    source: Mapped[str] = mapped_column(String(20))  # channel | death_list | system
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    notified: Mapped[list] = mapped_column(JSONType, default=list)  # departments notified
    # recorded (notification pending) | notifying (A3 process started) | notified; the sweep picks "recorded".
    status: Mapped[str] = mapped_column(String(16), default="recorded", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
