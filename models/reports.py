"""Statistics tables (C4): daily summary facts, kept monthly reports, background export jobs; report indexes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import JSONType, UTCDateTime, db, utcnow
from models.domain import Deregistration, Endorsement, Permit, Photo, ResidenceRegistration
from models.integration import IntegrationCall
from models.process import BigId, HumanTask, ProcessEvent, ProcessInstance


class ReportDailyStat(db.Model):
    """One summary fact: how many `metric` events happened on `day` (Shanghai date) per dimension, and their time.

    Reports over any period add up days here instead of scanning millions of source rows; the scheduler
    recomputes recent days (processes.reports.summary.refresh), so a day is always recomputed whole.
    """

    __tablename__ = "report_daily_stat"
    __table_args__ = (UniqueConstraint("metric", "day", "dim", "dim2", name="uq_report_daily_stat"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    dim: Mapped[str] = mapped_column(String(120), default="")
    dim2: Mapped[str] = mapped_column(String(60), default="")
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    total_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class ReportRefresh(db.Model):
    """One refresh of the daily summary: which days, when, how long (shown as "data as of")."""

    __tablename__ = "report_refresh"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_day: Mapped[date] = mapped_column(Date)
    to_day: Mapped[date] = mapped_column(Date)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    rows: Mapped[int] = mapped_column(Integer, default=0)


class MonthlyReport(db.Model):
    """The monthly report (C4.2) as generated, kept unchanged: the figures the centre was given."""

    __tablename__ = "monthly_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    generated_by: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSONType, default=dict)


class ExportJob(db.Model):
    """A background Excel export: the page polls its progress, then downloads the file."""

    __tablename__ = "export_job"
    __table_args__ = (Index("ix_export_job_user", "requested_by", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # query or report name
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    unmask: Mapped[bool] = mapped_column(default=False)
    requested_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    file_name: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Indexes the reports and queries need on tables other models own (declared here so the owner's file
# stays untouched; they attach to those tables' metadata like any other index).
REPORT_INDEXES = (
    Index("ix_permit_status_valid", Permit.status, Permit.valid_until),
    Index("ix_permit_issued_at", Permit.issued_at),
    Index("ix_permit_created_at", Permit.created_at),
    Index("ix_permit_photo_id", Permit.photo_id),  # "is this photo used" (C3.3) probes per photo
    Index("ix_registration_photo_id", ResidenceRegistration.photo_id),
    Index("ix_registration_status_valid", ResidenceRegistration.status, ResidenceRegistration.valid_until),
    Index("ix_registration_created_at", ResidenceRegistration.created_at),
    Index("ix_endorsement_endorsed_on", Endorsement.endorsed_on),
    Index("ix_deregistration_created_at", Deregistration.created_at),
    Index("ix_photo_taken_at", Photo.taken_at),
    Index("ix_instance_created_at", ProcessInstance.created_at),
    Index("ix_human_task_completed_at", HumanTask.completed_at),
    Index("ix_process_event_at", ProcessEvent.at),
    Index("ix_integration_call_at", IntegrationCall.at),  # the exchange trace lists every system newest first
    Index("ix_integration_call_op_at", IntegrationCall.system, IntegrationCall.operation, IntegrationCall.at),
)
