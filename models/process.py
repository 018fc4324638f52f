"""Process definitions, instances, human tasks, events, incidents and timers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import JSONType, UTCDateTime, db, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for high-volume tables.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ProcessDefinition(db.Model):
    """One immutable, numbered version of a deployed BPMN process or DMN decision file."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("kind", "key", "version", name="uq_definition_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # bpmn | dmn
    key: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(200))
    checksum: Mapped[str] = mapped_column(String(64))  # SM3 of the source (and of its decisions)
    source_xml: Mapped[str] = mapped_column(Text)
    serialized_spec: Mapped[str | None] = mapped_column(Text)  # BPMN only: spec + subprocess specs
    decision_refs: Mapped[list] = mapped_column(JSONType, default=list)  # DMN: decision ids; BPMN: DMN rows used
    meta: Mapped[dict] = mapped_column(JSONType, default=dict)  # public variables, user tasks, operators
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    comment: Mapped[str] = mapped_column(String(500), default="")

    def __repr__(self) -> str:
        return f"<ProcessDefinition {self.kind}:{self.key} v{self.version}>"


class ProcessInstance(db.Model):
    """One running or finished process: a compact snapshot plus what it waits for."""

    __tablename__ = "process_instance"
    __table_args__ = (
        UniqueConstraint("channel_id", "idempotency_key", name="uq_instance_idempotency"),
        Index("ix_instance_status_key", "status", "process_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    process_key: Mapped[str] = mapped_column(String(120))
    business_key: Mapped[str] = mapped_column(String(120), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel_client.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    started_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # running | waiting | completed | cancelled | error
    suspended: Mapped[bool] = mapped_column(default=False)
    snapshot: Mapped[str] = mapped_column(Text)
    waiting_on: Mapped[list] = mapped_column(JSONType, default=list)
    result: Mapped[dict] = mapped_column(JSONType, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": lock_version}

    def __repr__(self) -> str:
        return f"<ProcessInstance {self.public_id} {self.process_key} {self.status}>"


class HumanTask(db.Model):
    """A ready (or finished) user task, normalized for queues and inboxes."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_queue", "status", "role", "due_at"),
        Index("ix_human_task_channel", "channel_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(120))
    business_key: Mapped[str] = mapped_column(String(120), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel_client.id"))
    task_spec: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(32))
    approval_level: Mapped[int] = mapped_column(Integer, default=0)
    form_key: Mapped[str] = mapped_column(String(120))
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="ready")  # ready | completed | cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(64))


class ProcessEvent(db.Model):
    """Append-only history: one row per step of an instance."""

    __tablename__ = "process_event"
    __table_args__ = (Index("ix_process_event_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    task_spec: Mapped[str | None] = mapped_column(String(120))
    task_name: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))


class Incident(db.Model):
    """A service task that failed for good; retryable once the cause is fixed."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_open", "status", "instance_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_uuid: Mapped[str] = mapped_column(String(36))
    task_spec: Mapped[str] = mapped_column(String(120))
    operator: Mapped[str] = mapped_column(String(120))
    error_code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))


class ProcessTimer(db.Model):
    """A BPMN timer an instance waits on; the scheduler fires it once when due."""

    __tablename__ = "process_timer"
    __table_args__ = (
        UniqueConstraint("instance_id", "task_uuid", name="uq_timer_task"),
        Index("ix_timer_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_uuid: Mapped[str] = mapped_column(String(36))
    task_spec: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | fired | cancelled
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _refuse_change(mapper, connection, target):
    raise RuntimeError(f"{type(target).__name__} rows are append-only")


event.listen(ProcessEvent, "before_update", _refuse_change)
event.listen(ProcessEvent, "before_delete", _refuse_change)
