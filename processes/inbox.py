"""Staff inbox (issue 6 item 4): my roles' and district's tasks, a task with its case, claim/unclaim/assign/complete.

Each action is audited (processes.audit); views of personal data (full ID numbers) are audited as reads.
Masking is in processes.case_masking, the case's photo and e-licence files in processes.case_files; object
scope and the four-eyes rule live in processes.tasks (and case_scope/four_eyes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from integrations.idnumber import mask
from models import AppUser, HumanTask, ProcessDefinition, ProcessInstance, db, utcnow
from processes import audit, case_scope, four_eyes, tasks
from processes.case_files import photo_file_exists, photo_of_subject, subject_id_number
from processes.case_masking import ID_NUMBER_LIKE, case_variables
from processes.deployment import latest_versions
from processes.errors import BadRequest, NotFound
from processes.instances import history
from processes.paging import page_and_size
from processes.permissions import role_has
from processes.platform import Platform
from processes.roles import ROLES
from processes.stepping import Actor
from processes.unit_of_work import transaction

PER_PAGE_CHOICES = (10, 20, 50)


@dataclass
class InboxPage:
    """One page of the inbox."""

    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))


def parse_date(value: str | None, name: str, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest("BAD_FILTER", f"{label}应为日期（YYYY-MM-DD）", {"field": name}) from exc


def parse_filters(args: Mapping[str, str]) -> tuple[tasks.TaskFilter, int, int]:
    """Inbox filters, page and page size from a query string; 400 with a Chinese message on bad input."""
    status = args.get("status") or "ready"
    if status not in ("ready", "completed", "cancelled"):
        raise BadRequest("BAD_FILTER", "状态只能是待办、已办或已取消", {"field": "status"})
    overdue = {"": None, "yes": True, "no": False}.get(args.get("overdue") or "")
    if args.get("overdue") not in (None, "", "yes", "no"):
        raise BadRequest("BAD_FILTER", "逾期筛选只能是“是”或“否”", {"field": "overdue"})
    mine = args.get("mine") or ""
    if (args.get("point") or "") not in ("", "mine"):
        raise BadRequest("BAD_FILTER", "网点筛选只能是“本网点”", {"field": "point"})
    page, per_page = page_and_size(args, PER_PAGE_CHOICES)
    id_number = (args.get("id_number") or "").strip().upper() or None
    if id_number and not ID_NUMBER_LIKE.match(id_number):
        raise BadRequest("BAD_FILTER", "身份证号码应为18位", {"field": "id_number"})
    level = args.get("approval_level") or ""
    if level not in ("", "0", "1", "2"):
        raise BadRequest("BAD_FILTER", "审批级别只能是0、1或2", {"field": "approval_level"})
    for name in ("process_key", "business_key", "assignee"):
        if len(args.get(name) or "") > 120:
            raise BadRequest("BAD_FILTER", "筛选条件过长", {"field": name})
    filters = tasks.TaskFilter(
        process_key=args.get("process_key") or None,
        business_key=(args.get("business_key") or "").strip() or None,
        status=status,
        assignee=mine if mine else None,
        overdue=overdue,
        id_number=id_number,
        created_from=parse_date(args.get("created_from"), "created_from", "起始日期"),
        created_to=parse_date(args.get("created_to"), "created_to", "截止日期"),
        approval_level=int(level) if level else None,
    )
    return filters, page, per_page


def process_names() -> dict[str, str]:
    """Process key → Chinese name of its latest version (for filters and lists)."""
    rows = db.session.execute(latest_versions("bpmn", ProcessDefinition.key, ProcessDefinition.name)).all()
    return {key: name for key, name in sorted(rows)}


def task_row(task: HumanTask, names: dict[str, str], actor: Actor) -> dict[str, Any]:
    """A task as the inbox lists it."""
    now = utcnow()
    return {
        "id": task.id,
        "name": task.name,
        "process_key": task.process_key,
        "process_name": names.get(task.process_key, task.process_key),
        "business_key": task.business_key,
        "role": ROLES.get(task.role, task.role),
        "approval_level": task.approval_level,
        "assignee": task.assignee,
        "mine": task.assignee == actor.name,
        "status": task.status,
        "created_at": task.created_at,
        "due_at": task.due_at,
        "overdue": bool(task.due_at and task.status == "ready" and task.due_at < now),
        "completed_by": task.completed_by,
    }


def inbox(actor: Actor, filters: tasks.TaskFilter, page: int, per_page: int) -> InboxPage:
    """A page of the actor's tasks (roles and district), oldest due first."""
    rows, total = tasks.list_tasks(actor, filters, page, per_page)
    names = process_names()
    return InboxPage([task_row(t, names, actor) for t in rows], total, page, per_page)


def may_unmask(actor: Actor) -> bool:
    """True when one of the actor's roles grants person.unmask (only staff users can hold it)."""
    return actor.kind == "user" and any(role_has(role, "person.unmask") for role in actor.roles)


def task_detail(platform: Platform, task_id: int, actor: Actor, unmask: bool = False) -> dict[str, Any]:
    """A task with its case: data masked unless unmask was asked for and the actor may (the service decides),
    licences (A5), whether a photo exists (A4), history; `unmask_refused` tells the page it was not allowed."""
    unmask_refused = unmask and not may_unmask(actor)
    unmask = unmask and not unmask_refused
    task = tasks.get_task(task_id, actor)
    instance = db.session.get(ProcessInstance, task.instance_id)
    data = case_scope.case_data(platform, instance)
    form = platform.forms.get(task.form_key)
    current = data.get(form.variable) if form is not None else None
    licences = data.get("licences") if isinstance(data.get("licences"), dict) else None
    subject = subject_id_number(data)
    photo = photo_of_subject(subject)
    case_scope.ensure_scopes(platform, [instance.id], since=task.created_at)
    excluded = four_eyes.conflicts(platform, task)
    names = process_names()
    detail = {
        "task": task_row(task, names, actor),
        "task_model": task,
        "instance": instance,
        "form": form,
        "current": current if isinstance(current, dict) else {},
        "variables": case_variables(data, unmask),
        "licences": licences,
        "subject_masked": mask(subject) if subject else None,
        "has_photo": photo is not None,
        "photo_file_missing": photo is not None and not photo_file_exists(photo.storage_key),
        "photo_taken_at": photo.taken_at if photo is not None else None,
        "history": history(instance),
        "districts": case_scope.districts_of(instance.id),
        "four_eyes_blocked": excluded.get(actor.name),
        "delegates": delegates(task, actor),
        "unmasked": unmask,
        "unmask_refused": unmask_refused,
    }
    audit.log(
        "person.unmask" if unmask else "case.view",
        object_type="task",
        object_id=str(task.id),
        details={"business_key": task.business_key, "process": task.process_key},
    )
    return detail


def task_form_definition(platform: Platform, task_id: int, actor: Actor):
    """The form definition of a task the actor may see (404 when the task has no form)."""
    task = tasks.get_task(task_id, actor)
    form = platform.forms.get(task.form_key)
    if form is None:
        raise NotFound("FORM_NOT_FOUND", f"任务的表单 {task.form_key} 不存在")
    return form


def delegates(task: HumanTask, actor: Actor) -> list[tuple[str, str]]:
    """(username, name) of active staff holding the task's role (same district for a clerk) to delegate to."""
    query = select(AppUser.username, AppUser.display_name).where(
        AppUser.role == task.role, AppUser.active.is_(True), AppUser.username != actor.name
    )
    if case_scope.is_scoped(actor):
        query = query.where(AppUser.district == actor.extra.get("district"))
    return [(u, n) for u, n in db.session.execute(query.order_by(AppUser.username).limit(200)).all()]


def claim(task_id: int, actor: Actor) -> HumanTask:
    """Claim a task (audited)."""
    with transaction():
        task = tasks.claim_task(task_id, actor)
        audit.record("task.claim", object_type="task", object_id=str(task_id))
    return task


def unclaim(task_id: int, actor: Actor) -> HumanTask:
    """Give a task back to the queue (audited)."""
    with transaction():
        task = tasks.unclaim_task(task_id, actor)
        audit.record("task.unclaim", object_type="task", object_id=str(task_id))
    return task


def assign(task_id: int, actor: Actor, assignee: str) -> HumanTask:
    """Delegate a task to a colleague holding its role (audited)."""
    if not isinstance(assignee, str) or not assignee.strip():
        raise BadRequest("FIELD_REQUIRED", "请选择受托人", {"field": "assignee"})
    with transaction():
        task = tasks.get_task(task_id, actor)
        ok = db.session.execute(
            select(AppUser.id).where(
                AppUser.username == assignee.strip(), AppUser.role == task.role, AppUser.active.is_(True)
            )
        ).first()
        if ok is None:
            raise BadRequest("ASSIGNEE_INVALID", "受托人不存在或不具备办理该任务的角色", {"field": "assignee"})
        if case_scope.is_scoped(actor):  # a clerk delegates within their district: others could not see the case
            colleague = db.session.execute(
                select(AppUser.id).where(
                    AppUser.username == assignee.strip(), AppUser.district == actor.extra.get("district")
                )
            ).first()
            if colleague is None:
                raise BadRequest("ASSIGNEE_INVALID", "只能转交给本区的同事", {"field": "assignee"})
        task = tasks.assign_task(task_id, actor, assignee.strip())
        audit.record("task.assign", object_type="task", object_id=str(task_id), details={"assignee": task.assignee})
    return task


def complete(platform: Platform, task_id: int, data: dict[str, Any], actor: Actor) -> HumanTask:
    """Complete a task with validated form data (audited with the changed field names)."""
    with transaction():
        task, _instance = tasks.complete_task(platform, task_id, data, actor)
        audit.record(
            "approval.decide" if task.approval_level else "task.complete",
            object_type="task",
            object_id=str(task_id),
            details={"business_key": task.business_key, "form": task.form_key, "fields": sorted(data)},
        )
    return task


def dashboard(actor: Actor, permissions: frozenset[str]) -> dict[str, Any]:
    """The home page's counts for what this person may do: queue, claimed, overdue, approval levels."""

    def count(**kw: Any) -> int:
        return tasks.list_tasks(actor, tasks.TaskFilter(**kw), 1, 1)[1]

    tiles: dict[str, int] = {}
    if "inbox.view" in permissions:
        tiles["ready"] = count()
        tiles["mine"] = count(assignee=actor.name)
        tiles["overdue"] = count(overdue=True)
    if "approval.l1" in permissions:
        tiles["level1"] = count(approval_level=1)
    if "approval.l2" in permissions:
        tiles["level2"] = count(approval_level=2)
    return tiles
