"""Staff inbox (issue 6 item 4): my roles' and district's tasks, a task with its case, claim/unclaim/assign/complete.

Each action is audited (processes.audit); views of personal data (full ID numbers, the photo, licence files)
are audited as reads. Object scope and the four-eyes rule live in processes.tasks (and case_scope/four_eyes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from handlers.photo import PhotoStore
from integrations.idnumber import mask
from models import AppUser, HumanTask, Person, ProcessDefinition, ProcessInstance, db, utcnow
from processes import audit, case_scope, four_eyes, tasks
from processes.deployment import latest_versions
from processes.domain.photos import store_root
from processes.domain.registration_rules import latest_photo
from processes.errors import BadRequest, NotFound, ProcessError
from processes.instances import history
from processes.permissions import role_has
from processes.platform import Platform
from processes.roles import ROLES
from processes.served_files import servable_mime
from processes.stepping import Actor
from processes.unit_of_work import transaction

PER_PAGE_CHOICES = (10, 20, 50)
# Keys whose values are personal identifiers: masked on screen unless the viewer unmasks (audited).
SENSITIVE_KEYS = ("id_number", "mobile", "phone", "reporter_id_number")
# Keys holding a person's name: shown as the surname and asterisks until unmasked.
NAME_KEYS = ("name", "holder_name", "applicant_name", "reporter_name", "recipient_name")
# Workflow variables that are plumbing, not case facts.
HIDDEN_VARIABLES = ("store_root", "channel", "submitted_sms", "sms", "endorsed_sms", "reminder_sms", "dereg_sms")
_ID_LIKE = re.compile(r"^\d{17}[\dXx]$")
# Keys holding secrets (the change-request token binding an instance to its request): always masked.
SECRET_WORDS = ("token", "secret", "password")
SECRET_MASK = "******"


class Unavailable(ProcessError):
    """A partner system could not answer now (503)."""

    status = 503


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
    try:
        page = int(args.get("page") or 1)
        per_page = int(args.get("per_page") or 20)
    except ValueError as exc:
        raise BadRequest("BAD_PAGING", "页码和每页条数应为正整数", {"field": "page"}) from exc
    if page < 1 or page > 100000 or per_page not in PER_PAGE_CHOICES:
        raise BadRequest("BAD_PAGING", f"页码应 ≥ 1，每页条数只能是 {'、'.join(map(str, PER_PAGE_CHOICES))}")
    id_number = (args.get("id_number") or "").strip().upper() or None
    if id_number and not _ID_LIKE.match(id_number):
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


def mask_value(key: str, value: Any) -> Any:
    """An identifier masked for display (ID numbers: first 6 and last 4; phones: first 3 and last 4)."""
    if not isinstance(value, str) or not value:
        return value
    if "mobile" in key or "phone" in key:
        return value[:3] + "****" + value[-4:] if len(value) >= 7 else "****"
    if key in NAME_KEYS:
        return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"
    return mask(value)


def secret_key(key: str) -> bool:
    """Variables holding secrets (a change request's instance token): never shown, not even unmasked."""
    return any(word in key.lower() for word in SECRET_WORDS)


def masked(data: Any, unmask: bool = False, key: str = "") -> Any:
    """A copy of case data with identifiers masked (recursively), unless unmask; secrets always masked."""
    if secret_key(key):
        return SECRET_MASK
    if isinstance(data, dict):
        return {k: masked(v, unmask, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [masked(v, unmask, key) for v in data]
    sensitive = any(word in key for word in SENSITIVE_KEYS) or key in NAME_KEYS
    if not unmask and (sensitive or (isinstance(data, str) and _ID_LIKE.match(data))):
        return mask_value(key, data)
    return data


def case_variables(data: dict[str, Any], unmask: bool) -> list[tuple[str, Any]]:
    """The case's variables for display, plumbing left out, identifiers masked."""
    return [
        (k, masked(v, unmask, k))
        for k, v in sorted(data.items())
        if k not in HIDDEN_VARIABLES and not secret_key(str(k))
    ]


def subject_id_number(data: dict[str, Any]) -> str | None:
    """The case subject's ID number, if the case data names one."""
    return case_scope.case_facts_subject(data)


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
    photo = _photo_row(subject)
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
        "photo_file_missing": photo is not None and not _photo_file_exists(photo.storage_key),
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


def _photo_row(id_number: str | None):
    if not id_number:
        return None
    person_id = db.session.execute(select(Person.id).where(Person.id_number == id_number)).scalar_one_or_none()
    return latest_photo(person_id) if person_id is not None else None


def _photo_file_exists(storage_key: str) -> bool:
    try:
        return PhotoStore(store_root()).path(storage_key).exists()
    except Exception:  # an invalid key is a missing file for the viewer
        return False


def latest_photo_of_case(platform: Platform, task_id: int, actor: Actor) -> tuple[bytes, str]:
    """A4: the newest photo of the case's subject (history stays hidden); the view is audited."""
    task = tasks.get_task(task_id, actor)
    data = case_scope.case_data(platform, db.session.get(ProcessInstance, task.instance_id))
    photo = _photo_row(subject_id_number(data))
    if photo is None:
        raise NotFound("PHOTO_NOT_FOUND", "该申请人暂无照片")
    try:
        content = PhotoStore(store_root()).get(photo.storage_key)
    except ProcessError:
        raise
    except Exception as exc:  # a missing or corrupt file is a 404 for the viewer, not a crash
        raise NotFound("PHOTO_FILE_MISSING", "照片文件不存在或已损坏") from exc
    mime = servable_mime(photo.mime)  # never render anything but PNG/JPEG for staff
    audit.log("person.photo_view", object_type="task", object_id=str(task.id), details={"photo_id": photo.id})
    return content, mime


def licence_document(platform: Platform, task_id: int, licence_no: str, actor: Actor):
    """A5: one of the case's e-licences with its file, fetched from the library; the view is audited."""
    task = tasks.get_task(task_id, actor)
    data = case_scope.case_data(platform, db.session.get(ProcessInstance, task.instance_id))
    licences = data.get("licences") if isinstance(data.get("licences"), dict) else {}
    known = {item.get("licence_no") for item in licences.get("licences", []) if isinstance(item, dict)}
    if not licence_no or licence_no not in known:
        raise NotFound("LICENCE_NOT_FOUND", "本案未调取该电子证照", {"licence_no": licence_no})
    subject = subject_id_number(data)
    if not subject:
        raise NotFound("LICENCE_NOT_FOUND", "本案没有申请人身份证号码，无法调取证照")
    from integrations.errors import IntegrationError

    try:
        with transaction():  # the client's call record is kept with this unit of work
            document = platform.clients["elicence"].licence_file(licence_no, subject, business_key=task.business_key)
    except IntegrationError as exc:
        raise Unavailable("LICENCE_UNAVAILABLE", "电子证照库暂时无法提供该证照文件，请稍后重试") from exc
    servable_mime(document.mime)  # the library's file is shown only if it is a PDF, PNG or JPEG
    audit.log("person.licence_view", object_type="task", object_id=str(task.id), details={"licence_no": licence_no})
    return document


def licence_file(platform: Platform, task_id: int, licence_no: str, actor: Actor) -> tuple[bytes, str]:
    """A5 for the viewer: the e-licence's bytes and normalized MIME type (PDF, PNG or JPEG only)."""
    document = licence_document(platform, task_id, licence_no, actor)
    return document.content, servable_mime(document.mime)


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
