"""Process-instance services: start (idempotent), read, cancel, suspend, resume, correlate messages."""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any

from sqlalchemy import select

from models import HumanTask, Incident, ProcessEvent, ProcessInstance, db, utcnow
from processes.deployment import ProcessVersion, forget_newest_version, newest_version
from processes.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from processes.platform import Platform
from processes.step_writes import StepConflict
from processes.stepping import ACTIVE, Actor, definition_meta, lock_instance, persist_step
from processes.unit_of_work import transaction

MAX_KEY_LENGTH = 120
SYSTEM_VARIABLES = ("business_key", "submitted_on", "channel")


def _check_key(value: Any, name: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("FIELD_REQUIRED", f"缺少{name}", {"field": name})
    if len(value) > MAX_KEY_LENGTH:
        raise ValidationFailed("FIELD_TOO_LONG", f"{name}不能超过{MAX_KEY_LENGTH}个字符", {"field": name})
    return value.strip()


def _by_idempotency(channel_id: int | None, key: str) -> ProcessInstance | None:
    return db.session.execute(
        select(ProcessInstance).where(ProcessInstance.channel_id == channel_id, ProcessInstance.idempotency_key == key)
    ).scalar_one_or_none()


def start_instance(
    platform: Platform,
    process_key: str,
    business_key: str,
    data: dict[str, Any],
    actor: Actor,
    idempotency_key: str | None = None,
) -> tuple[ProcessInstance, bool]:
    """Start the latest version of a process; returns (instance, created). A repeated key returns the first."""
    process_key = _check_key(process_key, "流程标识 process_key")
    business_key = _check_key(business_key, "业务编号 business_key")
    idempotency_key = _check_key(idempotency_key, "幂等键 idempotency_key", required=False)
    if not isinstance(data, dict):
        raise BadRequest("DATA_NOT_OBJECT", "data 应为JSON对象")
    if idempotency_key:
        existing = _by_idempotency(actor.channel_id, idempotency_key)
        if existing is not None:
            return _replayed(existing, process_key, business_key), False
    for attempt in (1, 2):
        try:
            return _start(platform, process_key, business_key, data, actor, idempotency_key), True
        except StepConflict as exc:
            if exc.code != "DEFINITION_CHANGED" or attempt == 2:
                raise
            forget_newest_version(platform, process_key)  # deployed meanwhile by another process: start on it
        except Conflict as exc:
            if exc.code == "DUPLICATE" and idempotency_key:  # lost a race with the same key: answer as a replay
                existing = _by_idempotency(actor.channel_id, idempotency_key)
                if existing is not None:
                    return _replayed(existing, process_key, business_key), False
            raise
    raise AssertionError("unreachable: the second attempt returns or raises")


def _start(
    platform: Platform,
    process_key: str,
    business_key: str,
    data: dict[str, Any],
    actor: Actor,
    idempotency_key: str | None,
) -> ProcessInstance:
    with transaction(autocommit=True):  # the step's one write is the whole unit
        definition = newest_version(platform, process_key)
        start_data = _start_data(platform, definition, business_key, data, actor)
        workflow = platform.engine.create(definition.id, start_data)
        instance = ProcessInstance(
            public_id=secrets.token_hex(16),
            definition_id=definition.id,
            process_key=process_key,
            business_key=business_key,
            channel_id=actor.channel_id,
            idempotency_key=idempotency_key,
            started_by=actor.name,
            status="running",
            snapshot="",
            waiting_on=[],
            result={},
            request_id=actor.request_id,
        )
        persist_step(  # inserts the instance with its first step's rows, if its version is still the newest
            platform,
            instance,
            workflow,
            actor,
            "started",
            details={"version": definition.version, "data": _summary(start_data)},
            newest_version=definition.version,
        )
    return instance


def _replayed(existing: ProcessInstance, process_key: str, business_key: str) -> ProcessInstance:
    if existing.process_key != process_key or existing.business_key != business_key:
        raise Conflict("IDEMPOTENCY_KEY_REUSED", "幂等键已用于另一笔业务", {"instance_id": existing.public_id})
    return existing


def _start_data(
    platform: Platform, definition: ProcessVersion, business_key: str, data: dict[str, Any], actor: Actor
) -> dict[str, Any]:
    meta = definition_meta(platform, definition.id)
    start_form = meta.get("start_form")
    if start_form:
        form = platform.form(start_form)
        cleaned: dict[str, Any] = {form.variable: form.validate(data, actor)}
    else:
        bad = [k for k in data if not (isinstance(k, str) and k.isidentifier()) or k in SYSTEM_VARIABLES]
        if bad:
            raise ValidationFailed("BAD_VARIABLE", "变量名无效或为系统保留", {"variables": bad[:20]})
        cleaned = dict(data)
    today = datetime.now(platform.settings.zone).date().isoformat()
    cleaned.update(
        {"business_key": business_key, "submitted_on": today, "channel": actor.extra.get("channel_code", actor.kind)}
    )
    return cleaned


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    """Which variables were given (values stay in the snapshot, not in the history)."""
    return {"variables": sorted(data)}


def find_instance(public_id: str, actor: Actor) -> ProcessInstance:
    """An instance visible to the actor, or NotFound (a channel sees only what it started)."""
    instance = (
        db.session.execute(select(ProcessInstance).where(ProcessInstance.public_id == public_id)).scalar_one_or_none()
        if isinstance(public_id, str) and len(public_id) <= 64
        else None
    )
    if instance is None or (actor.kind == "channel" and instance.channel_id != actor.channel_id):
        raise NotFound("INSTANCE_NOT_FOUND", "流程实例不存在", {"instance_id": public_id})
    return instance


def describe(platform: Platform, instance: ProcessInstance, actor: Actor) -> dict[str, Any]:
    """The instance as the API shows it: status, current tasks, public result, open incidents."""
    tasks = (
        db.session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.status == "ready")
            .order_by(HumanTask.id)
        )
        .scalars()
        .all()
    )
    if actor.kind == "channel":
        tasks = [t for t in tasks if t.role == "applicant"]
    incidents = (
        db.session.execute(select(Incident).where(Incident.instance_id == instance.id, Incident.status == "open"))
        .scalars()
        .all()
    )
    version = definition_meta(platform, instance.definition_id).get("version")
    return {
        "id": instance.public_id,
        "process_key": instance.process_key,
        "version": version,
        "business_key": instance.business_key,
        "status": instance.status,
        "suspended": instance.suspended,
        "created_at": instance.created_at.isoformat(),
        "updated_at": instance.updated_at.isoformat(),
        "completed_at": instance.completed_at.isoformat() if instance.completed_at else None,
        "current_tasks": [task_summary(platform, t) for t in tasks],
        "waiting_for": [{"kind": w["kind"], "name": w["name"]} for w in instance.waiting_on],
        "result": instance.result,
        "incidents": [
            {"id": i.id, "task": i.task_spec, "code": i.error_code, "message": i.message, "attempts": i.attempts}
            for i in incidents
        ],
    }


def task_summary(platform: Platform, task: HumanTask) -> dict[str, Any]:
    """A human task as lists show it, with its form."""
    form = platform.forms.get(task.form_key)
    return {
        "id": task.id,
        "name": task.name,
        "task_spec": task.task_spec,
        "role": task.role,
        "approval_level": task.approval_level,
        "form_key": task.form_key,
        "form": {
            "title": form.title,
            "fields": [
                {
                    "name": f.name,
                    "label": f.label,
                    "type": f.type,
                    "required": f.required,
                    "choices": [list(c) for c in f.choices],
                }
                for f in form.fields
            ],
        }
        if form
        else None,
        "assignee": task.assignee,
        "status": task.status,
        "business_key": task.business_key,
        "created_at": task.created_at.isoformat(),
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "overdue": bool(task.due_at and task.status == "ready" and task.due_at < utcnow()),
    }


def _change_state(platform: Platform, public_id: str, actor: Actor, reason: str, kind: str) -> ProcessInstance:
    reason = _check_key(reason, "原因 reason") if kind != "resumed" or reason else ""
    with transaction():
        instance = find_instance(public_id, actor)
        if actor.kind == "channel":
            raise Forbidden("FORBIDDEN", "渠道不能执行此操作")
        instance = lock_instance(instance.id)
        if instance.status not in ACTIVE:
            raise Conflict("INSTANCE_FINISHED", "流程实例已结束，不能再操作", {"status": instance.status})
        if kind == "suspended" and instance.suspended:
            raise Conflict("ALREADY_SUSPENDED", "流程实例已挂起")
        if kind == "resumed" and not instance.suspended:
            raise Conflict("NOT_SUSPENDED", "流程实例未挂起")
        workflow = platform.engine.load(instance.snapshot, instance.public_id)
        if kind == "cancelled":
            workflow.cancel()
            instance.status = "cancelled"
            instance.completed_at = utcnow()
        instance.suspended = kind == "suspended"
        persist_step(platform, instance, workflow, actor, kind, details={"reason": reason}, advance=kind == "resumed")
        if kind == "cancelled":
            instance.status = "cancelled"
    return instance


def cancel_instance(platform: Platform, public_id: str, actor: Actor, reason: str) -> ProcessInstance:
    """Cancel a running instance (its tasks and jobs end; history stays)."""
    return _change_state(platform, public_id, actor, reason, "cancelled")


def suspend_instance(platform: Platform, public_id: str, actor: Actor, reason: str) -> ProcessInstance:
    """Suspend: no task can be completed and no job advances it until resumed."""
    return _change_state(platform, public_id, actor, reason, "suspended")


def resume_instance(platform: Platform, public_id: str, actor: Actor, reason: str = "") -> ProcessInstance:
    """Resume a suspended instance; jobs skipped while suspended run again."""
    instance = _change_state(platform, public_id, actor, reason, "resumed")
    from processes.service_jobs import requeue_service_tasks

    requeue_service_tasks(platform, instance.id)
    return instance


def send_message(
    platform: Platform, name: str, business_key: str, payload: dict[str, Any], actor: Actor
) -> ProcessInstance:
    """Correlate a message to the one active instance with this business key that waits for it."""
    name = _check_key(name, "消息名称 message_name")
    business_key = _check_key(business_key, "业务编号 business_key")
    if not isinstance(payload, dict):
        raise BadRequest("DATA_NOT_OBJECT", "payload 应为JSON对象")
    with transaction():
        candidates = (
            db.session.execute(
                select(ProcessInstance).where(
                    ProcessInstance.business_key == business_key, ProcessInstance.status.in_(ACTIVE)
                )
            )
            .scalars()
            .all()
        )
        if actor.kind == "channel":
            candidates = [c for c in candidates if c.channel_id == actor.channel_id]
        waiting = [
            c for c in candidates if any(w["kind"] == "message" and w.get("message") == name for w in c.waiting_on)
        ]
        if not waiting:
            raise NotFound(
                "NO_WAITING_INSTANCE", "没有等待该消息的流程实例", {"message_name": name, "business_key": business_key}
            )
        if len(waiting) > 1:
            raise Conflict(
                "AMBIGUOUS_CORRELATION", "多个流程实例在等待该消息", {"instances": [w.public_id for w in waiting]}
            )
        instance = lock_instance(waiting[0].id)
        if instance.suspended:
            raise Conflict("INSTANCE_SUSPENDED", "流程实例已挂起")
        workflow = platform.engine.load(instance.snapshot, instance.public_id)
        if not platform.engine.deliver_message(workflow, name, payload):
            raise Conflict("MESSAGE_NOT_EXPECTED", "流程实例此刻不等待该消息")
        persist_step(
            platform,
            instance,
            workflow,
            actor,
            "message_received",
            task_name=name,
            details={"message": name, "fields": sorted(payload)},
        )
    return instance


def wait_while_running(instance: ProcessInstance, seconds: float) -> ProcessInstance:
    """Re-read the instance, polling until it leaves 'running' (service tasks done) or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        db.session.rollback()
        instance = db.session.get(ProcessInstance, instance.id, populate_existing=True)
        if instance.status != "running" or time.monotonic() >= deadline:
            return instance
        time.sleep(0.05)


def history(instance: ProcessInstance, limit: int = 200) -> list[dict[str, Any]]:
    """The instance's events, oldest first."""
    rows = db.session.execute(
        select(ProcessEvent).where(ProcessEvent.instance_id == instance.id).order_by(ProcessEvent.id).limit(limit)
    ).scalars()
    return [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "kind": e.kind,
            "task": e.task_name or e.task_spec,
            "details": e.details,
        }
        for e in rows
    ]
