"""After every engine step: snapshot, status, human tasks, timers, service jobs and one event row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select, update

from models import (
    HumanTask,
    Incident,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ProcessTimer,
    db,
    utcnow,
)
from processes.engine.runtime import WaitState
from processes.jobs.kinds import enqueue
from processes.platform import Platform

ACTIVE = ("running", "waiting", "error")


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user, a channel client, or the system itself."""

    kind: str  # user | channel | system
    name: str
    roles: tuple[str, ...] = ()
    channel_id: int | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def system(cls, request_id: str | None = None) -> Actor:
        """The platform acting on its own (jobs, timers)."""
        return cls("system", "system", request_id=request_id)


def definition_meta(platform: Platform, definition_id: int) -> dict[str, Any]:
    """Deployment facts of a definition version (cached: versions never change)."""
    cache = platform.__dict__.setdefault("_meta_cache", {})
    meta = cache.get(definition_id)
    if meta is None:
        meta = db.session.execute(
            select(ProcessDefinition.meta).where(ProcessDefinition.id == definition_id)
        ).scalar_one()
        cache[definition_id] = meta
    return meta


def persist_step(
    platform: Platform,
    instance: ProcessInstance,
    workflow: BpmnWorkflow,
    actor: Actor,
    kind: str,
    *,
    task_spec: str | None = None,
    task_name: str | None = None,
    details: dict[str, Any] | None = None,
    advance: bool = True,
) -> list[WaitState]:
    """Advance to the next wait states and bring every derived row in step, in the caller's transaction."""
    engine = platform.engine
    waits = engine.advance(workflow) if advance else engine.wait_states(workflow)
    meta = definition_meta(platform, instance.definition_id)
    previous = {w["task_uuid"]: w for w in (instance.waiting_on or [])}
    current = {w.task_uuid: w for w in waits}
    now = utcnow()

    instance.snapshot = engine.dump(workflow, instance.definition_id, instance.public_id)
    instance.waiting_on = [w.as_dict() for w in waits]
    instance.result = engine.public_data(workflow, meta.get("public_variables", []))
    instance.updated_at = now
    if workflow.completed:
        instance.status = "completed"
        instance.completed_at = now
    elif not waits:  # unfinished with nothing to wait for: it would sit 'waiting' forever
        instance.status = "error"
    elif not (instance.status == "error" and _has_open_incident(instance.id)):
        instance.status = "running" if any(w.kind == "service" for w in waits) else "waiting"
    # Write the instance first: a new one gets its id, and a concurrent step fails here on the version
    # check (a clear 409 CONCURRENT_UPDATE) before any of its other rows could clash.
    db.session.flush()
    if not workflow.completed and not waits:
        _record_stall(instance, task_spec)

    gone = [uuid for uuid, w in previous.items() if uuid not in current]
    _retire(
        instance,
        [u for u in gone if previous[u]["kind"] == "user"],
        [u for u in gone if previous[u]["kind"] == "timer"],
    )
    new = [w for uuid, w in current.items() if uuid not in previous]
    _create_rows(platform, instance, new, meta, now)
    db.session.add(
        ProcessEvent(
            instance_id=instance.id,
            at=now,
            actor=actor.name,
            kind=kind,
            task_spec=task_spec,
            task_name=task_name,
            details=details or {},
            request_id=actor.request_id or instance.request_id,
        )
    )
    return waits


def _record_stall(instance: ProcessInstance, task_spec: str | None) -> None:
    # A dead end in the diagram: an incident makes it visible (the instance is already in 'error').
    db.session.add(
        Incident(
            instance_id=instance.id,
            task_uuid="",
            task_spec=task_spec or "",
            operator="",
            error_code="NO_WAIT_STATE",
            message="流程尚未结束，但没有任何待办、定时或消息等待（流程图可能存在死路）",
            attempts=0,
        )
    )


def _has_open_incident(instance_id: int) -> bool:
    return (
        db.session.execute(
            select(Incident.id).where(Incident.instance_id == instance_id, Incident.status == "open").limit(1)
        ).first()
        is not None
    )


def _retire(instance: ProcessInstance, user_uuids: list[str], timer_uuids: list[str]) -> None:
    # The task completed in this very step is already closed in the session: no UPDATE needed for it.
    # Loaded values only (obj.__dict__): looking at an expired object must not cost a query.
    closed = {
        loaded.get("task_uuid")
        for loaded in (obj.__dict__ for obj in db.session.identity_map.values() if isinstance(obj, HumanTask))
        if loaded.get("status", "ready") != "ready" and loaded.get("task_uuid") in user_uuids
    }
    user_uuids = [uuid for uuid in user_uuids if uuid not in closed]
    if user_uuids:
        db.session.execute(
            update(HumanTask)
            .where(HumanTask.task_uuid.in_(user_uuids), HumanTask.status == "ready")
            .values(status="cancelled", completed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    if timer_uuids:
        db.session.execute(
            update(ProcessTimer)
            .where(
                ProcessTimer.instance_id == instance.id,
                ProcessTimer.task_uuid.in_(timer_uuids),
                ProcessTimer.status == "pending",
            )
            .values(status="cancelled")
            .execution_options(synchronize_session=False)
        )


def _create_rows(
    platform: Platform, instance: ProcessInstance, new: list[WaitState], meta: dict[str, Any], now: datetime
) -> None:
    user_tasks = meta.get("user_tasks", {})
    for wait in new:
        if wait.kind == "user":
            info = user_tasks.get(wait.task_spec, {})
            hours = info.get("due_in_hours") or platform.settings.TASK_DEFAULT_DUE_HOURS
            db.session.add(
                HumanTask(
                    task_uuid=wait.task_uuid,
                    instance_id=instance.id,
                    process_key=instance.process_key,
                    business_key=instance.business_key,
                    channel_id=instance.channel_id,
                    task_spec=wait.task_spec,
                    name=wait.name,
                    lane=wait.lane or "",
                    role=info.get("role") or "clerk",
                    approval_level=info.get("approval_level", 0),
                    form_key=info.get("form_key") or "",
                    status="ready",
                    created_at=now,
                    due_at=now + timedelta(hours=hours),
                )
            )
        elif wait.kind == "timer":
            db.session.add(
                ProcessTimer(
                    instance_id=instance.id,
                    task_uuid=wait.task_uuid,
                    task_spec=wait.task_spec,
                    due_at=datetime.fromisoformat(wait.due).astimezone(UTC),
                )
            )
        elif wait.kind == "service":
            enqueue(
                platform,
                "service_task",
                {"task_uuid": wait.task_uuid, "operator": wait.operator, "task_spec": wait.task_spec},
                instance_id=instance.id,
                dedupe_key=f"svc:{wait.task_uuid}",
                available_at=now,
                request_id=instance.request_id,
            )


def lock_instance(instance_id: int) -> ProcessInstance | None:
    """Load an instance for change: a row lock on PostgreSQL; the version check guards SQLite."""
    return db.session.execute(
        select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update()
    ).scalar_one_or_none()
