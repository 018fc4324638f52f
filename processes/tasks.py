"""Human-task services: list a queue, claim, unclaim, assign, and complete with validated form data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.task import TaskState
from sqlalchemy import func, select

from models import HumanTask, ProcessInstance, db, utcnow
from processes.errors import BadRequest, Conflict, Forbidden, NotFound
from processes.platform import Platform
from processes.stepping import Actor, lock_instance, persist_step
from processes.unit_of_work import transaction


@dataclass
class TaskFilter:
    """Queue filters; every field optional."""

    process_key: str | None = None
    business_key: str | None = None
    status: str = "ready"
    assignee: str | None = None
    overdue: bool | None = None


def _visible(query, actor: Actor):
    if actor.kind == "channel":
        return query.where(HumanTask.channel_id == actor.channel_id, HumanTask.role == "applicant")
    if actor.kind == "user":
        return query.where(HumanTask.role.in_(actor.roles))
    return query


def list_tasks(actor: Actor, filters: TaskFilter, page: int, per_page: int) -> tuple[list[HumanTask], int]:
    """A page of the tasks the actor may see, oldest due first, and the total count."""
    if filters.status not in ("ready", "completed", "cancelled"):
        raise BadRequest("BAD_FILTER", "status 只能是 ready、completed 或 cancelled", {"field": "status"})
    query = _visible(select(HumanTask).where(HumanTask.status == filters.status), actor)
    if filters.process_key:
        query = query.where(HumanTask.process_key == filters.process_key)
    if filters.business_key:
        query = query.where(HumanTask.business_key == filters.business_key)
    if filters.assignee:
        query = query.where(HumanTask.assignee == filters.assignee)
    if filters.overdue is not None:
        now = utcnow()
        query = query.where(HumanTask.due_at < now) if filters.overdue else query.where(HumanTask.due_at >= now)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = (
        db.session.execute(query.order_by(HumanTask.due_at, HumanTask.id).offset((page - 1) * per_page).limit(per_page))
        .scalars()
        .all()
    )
    return list(rows), total


def get_task(task_id: int, actor: Actor) -> HumanTask:
    """A task the actor may see, or NotFound."""
    task = db.session.get(HumanTask, task_id) if isinstance(task_id, int) else None
    if (
        task is None
        or db.session.execute(_visible(select(HumanTask.id).where(HumanTask.id == task_id), actor)).first() is None
    ):
        raise NotFound("TASK_NOT_FOUND", "任务不存在或无权查看", {"task_id": task_id})
    return task


def _ready_task(task_id: int, actor: Actor) -> HumanTask:
    task = get_task(task_id, actor)
    if task.status != "ready":
        raise Conflict("TASK_NOT_READY", "任务已被处理，不能重复提交", {"status": task.status})
    return task


def claim_task(task_id: int, actor: Actor) -> HumanTask:
    """Take a ready task; 409 if someone else holds it."""
    with transaction():
        task = _ready_task(task_id, actor)
        if task.assignee and task.assignee != actor.name:
            raise Conflict("TASK_CLAIMED", f"任务已由 {task.assignee} 认领", {"assignee": task.assignee})
        task.assignee, task.claimed_at = actor.name, utcnow()
    return task


def unclaim_task(task_id: int, actor: Actor) -> HumanTask:
    """Give a claimed task back to the queue."""
    with transaction():
        task = _ready_task(task_id, actor)
        if task.assignee != actor.name:
            raise Conflict("TASK_NOT_YOURS", "只能退回自己认领的任务")
        task.assignee, task.claimed_at = None, None
    return task


def assign_task(task_id: int, actor: Actor, assignee: str) -> HumanTask:
    """Delegate a ready task to another person."""
    if not isinstance(assignee, str) or not assignee.strip():
        raise BadRequest("FIELD_REQUIRED", "请指定受托人", {"field": "assignee"})
    with transaction():
        task = _ready_task(task_id, actor)
        if task.assignee and task.assignee != actor.name:
            raise Conflict("TASK_CLAIMED", f"任务已由 {task.assignee} 认领", {"assignee": task.assignee})
        task.assignee, task.claimed_at = assignee.strip(), utcnow()
    return task


def complete_task(platform: Platform, task_id: int, data: Any, actor: Actor) -> tuple[HumanTask, ProcessInstance]:
    """Validate the form data, complete the task and advance the instance; exactly one completion wins."""
    with transaction():
        task = _ready_task(task_id, actor)
        if task.assignee and task.assignee != actor.name and actor.kind == "user":
            raise Forbidden("TASK_CLAIMED", f"任务已由 {task.assignee} 认领", {"assignee": task.assignee})
        form = platform.form(task.form_key)
        cleaned = form.validate(data, actor)
        instance = lock_instance(task.instance_id)
        db.session.refresh(task)  # re-read after the row lock: another completion may have won meanwhile
        if task.status != "ready":
            raise Conflict("TASK_NOT_READY", "任务已被处理，不能重复提交", {"status": task.status})
        if instance.suspended:
            raise Conflict("INSTANCE_SUSPENDED", "流程实例已挂起，暂不能办理")
        workflow = platform.engine.load(instance.snapshot)
        spiff_task = platform.engine.task(workflow, task.task_uuid)
        if spiff_task is None or not spiff_task.has_state(TaskState.READY):
            raise Conflict("TASK_NOT_READY", "任务在流程中已不可办理")
        before = spiff_task.data.get(form.variable) or {}
        changes = form.diff(before if isinstance(before, dict) else {}, cleaned)
        platform.engine.complete_user_task(workflow, spiff_task, cleaned, form.variable)
        task.status, task.completed_at, task.completed_by = "completed", utcnow(), actor.name
        if not task.assignee:
            task.assignee = actor.name
        persist_step(
            platform,
            instance,
            workflow,
            actor,
            "task_completed",
            task_spec=task.task_spec,
            task_name=task.name,
            details={"form": form.key, "changes": changes},
        )
    return task, instance
