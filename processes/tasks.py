"""Human-task services: list a queue, claim, unclaim, assign, and complete with validated form data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from SpiffWorkflow.task import TaskState
from sqlalchemy import func, select

from models import HumanTask, ProcessInstance, db, utcnow
from processes import case_scope, four_eyes
from processes.errors import BadRequest, Conflict, Forbidden, NotFound
from processes.platform import Platform, get_platform
from processes.stepping import Actor, persist_step
from processes.unit_of_work import transaction


@dataclass
class TaskFilter:
    """Queue filters; every field optional."""

    process_key: str | None = None
    business_key: str | None = None
    status: str = "ready"
    assignee: str | None = None
    overdue: bool | None = None
    id_number: str | None = None  # the case subject's ID number (matched through its blind index)
    created_from: date | None = None  # task created on or after this day (UTC)
    created_to: date | None = None  # task created on or before this day (UTC)
    approval_level: int | None = None
    service_point: str | None = None  # only cases submitted at this service point


def _visible(query, actor: Actor):
    if actor.kind == "channel":
        return query.where(HumanTask.channel_id == actor.channel_id, HumanTask.role == "applicant")
    if actor.kind == "user":
        query = query.where(HumanTask.role.in_(actor.roles))
        clause = case_scope.scope_clause(actor)  # object scope: a clerk sees only their district's cases
        return query if clause is None else query.where(clause)
    return query


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of a day (date filters)."""
    return datetime.combine(day, time.min, tzinfo=utcnow().tzinfo)


def list_tasks(actor: Actor, filters: TaskFilter, page: int, per_page: int) -> tuple[list[HumanTask], int]:
    """A page of the tasks the actor may see, oldest due first, and the total count."""
    if filters.status not in ("ready", "completed", "cancelled"):
        raise BadRequest("BAD_FILTER", "status 只能是 ready、completed 或 cancelled", {"field": "status"})
    if case_scope.is_scoped(actor):
        case_scope.ensure_task_scopes(get_platform(), actor, filters.status)
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
    if filters.approval_level is not None:
        query = query.where(HumanTask.approval_level == filters.approval_level)
    if filters.created_from:
        query = query.where(HumanTask.created_at >= day_start(filters.created_from))
    if filters.created_to:
        query = query.where(HumanTask.created_at < day_start(filters.created_to + timedelta(days=1)))
    if filters.service_point:
        if not case_scope.is_scoped(actor):
            case_scope.ensure_task_scopes(get_platform(), actor, filters.status)
        query = query.where(case_scope.at_service_point(filters.service_point))
    if filters.id_number:
        if not case_scope.is_scoped(actor):
            case_scope.ensure_task_scopes(get_platform(), actor, filters.status)
        subjects = case_scope.instances_with_subject(filters.id_number)
        query = query.where(HumanTask.instance_id.in_(subjects))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = (
        db.session.execute(query.order_by(HumanTask.due_at, HumanTask.id).offset((page - 1) * per_page).limit(per_page))
        .scalars()
        .all()
    )
    return list(rows), total


def get_task(task_id: int, actor: Actor) -> HumanTask:
    """A task the actor may see, or NotFound."""
    return _find_task(task_id, actor, with_instance=False)[0]


def _find_task(task_id: int, actor: Actor, with_instance: bool) -> tuple[HumanTask, ProcessInstance | None]:
    """The visible task, and its instance when asked (read in the same query where the scope allows)."""
    # Out-of-range ids (a 64-bit column on PostgreSQL) are simply not found, never a database error.
    task = instance = None
    if not (isinstance(task_id, int) and 0 < task_id < 2**63):
        pass
    elif case_scope.is_scoped(actor):  # the case's district may have to be worked out before the check
        task = db.session.get(HumanTask, task_id)
        if task is not None:
            case_scope.ensure_scopes(get_platform(), [task.instance_id], since=task.created_at)
            visible = _visible(select(HumanTask.id).where(HumanTask.id == task_id), actor)
            task = task if db.session.execute(visible).first() is not None else None
    else:  # one query: the row and the visibility check together
        query = select(HumanTask).where(HumanTask.id == task_id)
        if with_instance:
            instance_of = ProcessInstance.id == HumanTask.instance_id
            query = query.add_columns(ProcessInstance).join(ProcessInstance, instance_of)
        row = db.session.execute(_visible(query, actor)).first()
        if row is not None:
            task, instance = row[0], row[1] if with_instance else None
    if task is None:
        raise NotFound("TASK_NOT_FOUND", "任务不存在或无权查看", {"task_id": task_id})
    if with_instance and instance is None:
        instance = db.session.get(ProcessInstance, task.instance_id)
    return task, instance


def _ready_task(task_id: int, actor: Actor) -> HumanTask:
    return _check_ready(get_task(task_id, actor))


def _check_ready(task: HumanTask) -> HumanTask:
    if task.status != "ready":
        raise Conflict("TASK_NOT_READY", "任务已被处理，不能重复提交", {"status": task.status})
    return task


def claim_task(task_id: int, actor: Actor) -> HumanTask:
    """Take a ready task; 409 if someone else holds it."""
    with transaction():
        task = _ready_task(task_id, actor)
        if task.assignee and task.assignee != actor.name:
            raise Conflict("TASK_CLAIMED", f"任务已由 {task.assignee} 认领", {"assignee": task.assignee})
        four_eyes.check(get_platform(), task, actor)
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
        four_eyes.check(get_platform(), task, actor, assignee.strip())
        task.assignee, task.claimed_at = assignee.strip(), utcnow()
    return task


def complete_task(platform: Platform, task_id: int, data: Any, actor: Actor) -> tuple[HumanTask, ProcessInstance]:
    """Validate the form data, complete the task and advance the instance; exactly one completion wins."""
    # No row lock: the step's write is guarded by the instance version and the task still being ready, so of
    # two completions exactly one is written and the other gets 409 (processes/step_writes).
    with transaction(autocommit=True):
        task, instance = _find_task(task_id, actor, with_instance=True)
        _check_ready(task)
        if task.assignee and task.assignee != actor.name and actor.kind == "user":
            raise Forbidden("TASK_CLAIMED", f"任务已由 {task.assignee} 认领", {"assignee": task.assignee})
        four_eyes.check(platform, task, actor)
        form = platform.form(task.form_key)
        cleaned = form.validate(data, actor)
        if instance.suspended:
            raise Conflict("INSTANCE_SUSPENDED", "流程实例已挂起，暂不能办理")
        workflow = platform.engine.load(instance.snapshot, instance.public_id)
        spiff_task = platform.engine.task(workflow, task.task_uuid)
        if spiff_task is None or not spiff_task.has_state(TaskState.READY):
            raise Conflict("TASK_NOT_READY", "任务在流程中已不可办理")
        before = spiff_task.data.get(form.variable) or {}
        changes = form.diff(before if isinstance(before, dict) else {}, cleaned)
        platform.engine.complete_user_task(workflow, spiff_task, cleaned, form.variable)
        closing = {
            "status": "completed",
            "completed_at": utcnow(),
            "completed_by": actor.name,
            "assignee": task.assignee or actor.name,
        }
        persist_step(
            platform,
            instance,
            workflow,
            actor,
            "task_completed",
            task_spec=task.task_spec,
            task_name=task.name,
            details={"form": form.key, "changes": changes},
            close_task=(task, closing),
        )
    return task, instance
