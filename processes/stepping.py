"""After every engine step: snapshot, status, human tasks, timers, service jobs and one event row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select

from models import (
    HumanTask,
    Incident,
    OutboxJob,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ProcessTimer,
    db,
    utcnow,
)
from processes.engine.runtime import WaitState
from processes.jobs.kinds import NewJob, job_row, notify_after_commit
from processes.platform import Platform
from processes.step_writes import StepWrite

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
    close_task: tuple[HumanTask, dict[str, Any]] | None = None,
    claim_job_id: int | None = None,
    newest_version: int | None = None,
) -> list[WaitState]:
    """Advance to the next wait states and write every derived row in step, all or nothing (see step_writes).

    `close_task` is the user task this step completed with its closing values (written only if still ready);
    `claim_job_id` the job that ran this step (claimed only if still runnable). A new instance (no id yet,
    not in the session) is inserted; with `newest_version`, only while that is still its process's newest.
    """
    engine = platform.engine
    waits = engine.advance(workflow) if advance else engine.wait_states(workflow)
    meta = definition_meta(platform, instance.definition_id)
    previous = {w["task_uuid"]: w for w in (instance.waiting_on or [])}
    current = {w.task_uuid: w for w in waits}
    now = utcnow()

    # The new values go to the step, not onto the object: it shows them once written (and is never dirty).
    changes: dict[str, Any] = {
        "snapshot": engine.dump(workflow, instance.definition_id, instance.public_id),
        "waiting_on": [w.as_dict() for w in waits],
        "result": engine.public_data(workflow, meta.get("public_variables", [])),
        "updated_at": now,
    }
    stalled = not workflow.completed and not waits  # unfinished with nothing to wait for: a dead end
    if workflow.completed:
        changes.update(status="completed", completed_at=now)
    elif stalled:
        changes["status"] = "error"
    elif not (instance.status == "error" and _has_open_incident(instance.id)):
        changes["status"] = "running" if any(w.kind == "service" for w in waits) else "waiting"

    task, closing = close_task or (None, {})
    step = StepWrite(
        instance,
        now,
        changes,
        close_task=task,
        close_values=closing,
        claim_job_id=claim_job_id,
        newest_version=newest_version,
    )
    gone = [uuid for uuid, w in previous.items() if uuid not in current]
    step.retire_tasks = _open_user_tasks([u for u in gone if previous[u]["kind"] == "user"], task)
    step.retire_timers = [u for u in gone if previous[u]["kind"] == "timer"]
    jobs = _add_wait_rows(platform, instance, step, [w for uuid, w in current.items() if uuid not in previous], meta)
    step.add(
        ProcessEvent.__table__,
        {
            "at": now,
            "actor": actor.name,
            "kind": kind,
            "task_spec": task_spec,
            "task_name": task_name,
            "details": details or {},
            "request_id": actor.request_id or instance.request_id,
        },
    )
    if stalled:  # a dead end in the diagram: an incident makes it visible
        step.add(
            Incident.__table__,
            {
                "task_uuid": "",
                "task_spec": task_spec or "",
                "operator": "",
                "error_code": "NO_WAIT_STATE",
                "message": "流程尚未结束，但没有任何待办、定时或消息等待（流程图可能存在死路）",
                "attempts": 0,
                "created_at": now,
            },
        )
    for job_id, available_at in zip(step.apply(), jobs, strict=True):
        notify_after_commit(platform, NewJob(available_at, job_id=job_id))
    return waits


def _has_open_incident(instance_id: int | None) -> bool:
    if instance_id is None:
        return False
    with db.session.no_autoflush:  # the instance's new values are written by the step, not flushed here
        return (
            db.session.execute(
                select(Incident.id).where(Incident.instance_id == instance_id, Incident.status == "open").limit(1)
            ).first()
            is not None
        )


def _open_user_tasks(uuids: list[str], completed: HumanTask | None) -> list[str]:
    # The task completed by this step is closed by the step itself (one row must not be written twice in one
    # statement); tasks closed on their ORM object are written by the session's flush. Loaded values only
    # (obj.__dict__): looking at an expired object must not cost a query.
    closed = {completed.task_uuid} if completed is not None else set()
    closed.update(
        loaded.get("task_uuid")
        for loaded in (obj.__dict__ for obj in db.session.identity_map.values() if isinstance(obj, HumanTask))
        if loaded.get("status", "ready") != "ready"
    )
    return [uuid for uuid in uuids if uuid not in closed]


def _add_wait_rows(
    platform: Platform, instance: ProcessInstance, step: StepWrite, new: list[WaitState], meta: dict[str, Any]
) -> list[datetime]:
    """Rows for the wait states this step reached; returns when each job it adds may run."""
    user_tasks = meta.get("user_tasks", {})
    now = step.now
    jobs: list[datetime] = []
    for wait in new:
        if wait.kind == "user":
            info = user_tasks.get(wait.task_spec, {})
            hours = info.get("due_in_hours") or platform.settings.TASK_DEFAULT_DUE_HOURS
            step.add(
                HumanTask.__table__,
                {
                    "task_uuid": wait.task_uuid,
                    "process_key": instance.process_key,
                    "business_key": instance.business_key,
                    "channel_id": instance.channel_id,
                    "task_spec": wait.task_spec,
                    "name": wait.name,
                    "lane": wait.lane or "",
                    "role": info.get("role") or "clerk",
                    "approval_level": info.get("approval_level", 0),
                    "form_key": info.get("form_key") or "",
                    "status": "ready",
                    "created_at": now,
                    "due_at": now + timedelta(hours=hours),
                },
            )
        elif wait.kind == "timer":
            step.add(
                ProcessTimer.__table__,
                {
                    "task_uuid": wait.task_uuid,
                    "task_spec": wait.task_spec,
                    "due_at": datetime.fromisoformat(wait.due).astimezone(UTC),
                    "status": "pending",
                },
            )
        elif wait.kind == "service":
            row = job_row(
                "service_task",
                {"task_uuid": wait.task_uuid, "operator": wait.operator, "task_spec": wait.task_spec},
                dedupe_key=f"svc:{wait.task_uuid}",
                available_at=now,
                request_id=instance.request_id,
            )
            del row["instance_id"]  # the step fills it in
            step.add(OutboxJob.__table__, {**row, "status": "pending", "attempts": 0, "created_at": now})
            jobs.append(now)
    return jobs


def lock_instance(instance_id: int) -> ProcessInstance | None:
    """Load an instance for change: a row lock on PostgreSQL; the version check guards SQLite."""
    return db.session.execute(
        select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update()
    ).scalar_one_or_none()
