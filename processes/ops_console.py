"""Operations console (issue 6 item 7): instance search and detail, incidents with retry, suspend/resume/cancel.

Every state change needs a reason and is audited (ops.suspend, ops.resume, ops.cancel, ops.retry); opening an
instance's data is audited as a read (ops.instance_view). Identifiers in data and history are masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import exists, func, select

from models import CaseScope, HumanTask, Incident, ProcessDefinition, ProcessInstance, db
from processes import audit, case_scope
from processes.case_masking import case_variables, masked
from processes.errors import BadRequest, NotFound, ValidationFailed
from processes.inbox import PER_PAGE_CHOICES, InboxPage, parse_date, process_names, task_row
from processes.instances import cancel_instance, find_instance, history, resume_instance, suspend_instance
from processes.paging import MAX_PAGE, page_and_size
from processes.platform import Platform
from processes.service_jobs import retry_incident
from processes.stepping import Actor
from processes.tasks import day_start
from processes.unit_of_work import transaction

STATUSES = {
    "running": "运行中",
    "waiting": "等待办理",
    "error": "故障",
    "completed": "已完成",
    "cancelled": "已撤销",
    "suspended": "已挂起",
}
MAX_REASON = 120  # processes.instances keeps reasons up to 120 characters


@dataclass
class InstanceFilter:
    """Instance search filters; every field optional."""

    process_key: str | None = None
    status: str | None = None
    business_key: str | None = None
    id_number: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    district: str | None = None  # one of Shanghai's districts, or UNKNOWN_DISTRICT


UNKNOWN_DISTRICT = "unknown"


def parse_instance_filters(args: Mapping[str, str]) -> tuple[InstanceFilter, int, int]:
    """Search filters, page and page size from a query string; 400 with a Chinese message on bad input."""
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest("BAD_FILTER", "状态取值无效", {"field": "status"})
    page, per_page = page_and_size(args, PER_PAGE_CHOICES)
    for name in ("process_key", "business_key", "id_number"):
        if len(args.get(name) or "") > 120:
            raise BadRequest("BAD_FILTER", "筛选条件过长", {"field": name})
    district = args.get("district") or None
    if district is not None and district != UNKNOWN_DISTRICT and district not in case_scope.SHANGHAI_DISTRICTS:
        raise BadRequest("BAD_FILTER", "所属区取值无效", {"field": "district"})
    filters = InstanceFilter(
        process_key=args.get("process_key") or None,
        status=status,
        business_key=(args.get("business_key") or "").strip() or None,
        id_number=(args.get("id_number") or "").strip().upper() or None,
        created_from=parse_date(args.get("created_from"), "created_from", "起始日期"),
        created_to=parse_date(args.get("created_to"), "created_to", "截止日期"),
        district=district,
    )
    return filters, page, per_page


def _row(instance: ProcessInstance, names: dict[str, str], incidents: int) -> dict[str, Any]:
    return {
        "id": instance.public_id,
        "process_key": instance.process_key,
        "process_name": names.get(instance.process_key, instance.process_key),
        "business_key": instance.business_key,
        "status": instance.status,
        "status_label": STATUSES.get(instance.status, instance.status),
        "suspended": instance.suspended,
        "started_by": instance.started_by,
        "created_at": instance.created_at,
        "updated_at": instance.updated_at,
        "incidents": incidents,
    }


def search_instances(platform: Platform, actor: Actor, filters: InstanceFilter, page: int, per_page: int) -> InboxPage:
    """A page of instances, newest first."""
    query = select(ProcessInstance)
    clause = case_scope.scope_clause(actor, ProcessInstance.id)
    if clause is not None:
        query = query.where(clause)
    if filters.process_key:
        query = query.where(ProcessInstance.process_key == filters.process_key)
    if filters.status == "suspended":
        query = query.where(ProcessInstance.suspended.is_(True))
    elif filters.status:
        query = query.where(ProcessInstance.status == filters.status)
    if filters.business_key:
        query = query.where(ProcessInstance.business_key == filters.business_key)
    if filters.created_from:
        query = query.where(ProcessInstance.created_at >= day_start(filters.created_from))
    if filters.created_to:
        query = query.where(ProcessInstance.created_at < day_start(filters.created_to + timedelta(days=1)))
    if filters.district or filters.id_number:
        case_scope.ensure_recent_scopes(platform)
    if filters.district:
        wanted = (
            CaseScope.district.is_(None)
            if filters.district == UNKNOWN_DISTRICT
            else CaseScope.district == filters.district
        )
        query = query.where(exists(select(CaseScope.id).where(CaseScope.instance_id == ProcessInstance.id, wanted)))
    if filters.id_number:
        subjects = case_scope.instances_with_subject(filters.id_number)
        query = query.where(ProcessInstance.id.in_(subjects))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = (
        db.session.execute(
            query.order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        .scalars()
        .all()
    )
    open_counts = dict(
        db.session.execute(
            select(Incident.instance_id, func.count())
            .where(Incident.status == "open", Incident.instance_id.in_([r.id for r in rows] or [0]))
            .group_by(Incident.instance_id)
        ).all()
    )
    names = process_names()
    return InboxPage([_row(r, names, open_counts.get(r.id, 0)) for r in rows], total, page, per_page)


def _visible_instance(platform: Platform, public_id: str, actor: Actor) -> ProcessInstance:
    instance = find_instance(public_id, actor)
    if not case_scope.in_scope(platform, actor, instance.id):
        raise NotFound("INSTANCE_NOT_FOUND", "流程实例不存在", {"instance_id": public_id})
    return instance


def instance_detail(platform: Platform, public_id: str, actor: Actor) -> dict[str, Any]:
    """An instance for the console: diagram with current tasks, masked data, history with per-step changes."""
    instance = _visible_instance(platform, public_id, actor)
    case_scope.ensure_scopes(platform, [instance.id])
    definition = db.session.get(ProcessDefinition, instance.definition_id)
    data = case_scope.case_data(platform, instance)
    incidents = (
        db.session.execute(select(Incident).where(Incident.instance_id == instance.id).order_by(Incident.id.desc()))
        .scalars()
        .all()
    )
    open_incidents = [i for i in incidents if i.status == "open"]
    ready = (
        db.session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.status == "ready")
            .order_by(HumanTask.id)
        )
        .scalars()
        .all()
    )
    events = [dict(e, details=masked(e["details"])) for e in history(instance, limit=500)]
    audit.log("ops.instance_view", object_type="instance", object_id=instance.public_id)
    return {
        "instance": _row(instance, process_names(), len(open_incidents)),
        "version": definition.version if definition else None,
        "diagram_xml": definition.source_xml if definition else "",
        "highlight": sorted({w["task_spec"] for w in instance.waiting_on or [] if w.get("task_spec")}),
        "incident_nodes": {i.task_spec: 1 for i in open_incidents if i.task_spec},
        "waiting": instance.waiting_on or [],
        "tasks": [task_row(t, process_names(), actor) for t in ready],
        "variables": case_variables(data, unmask=False),
        "history": events,
        "incidents": incidents,
        "districts": case_scope.districts_of(instance.id),
        "active": instance.status in ("running", "waiting", "error"),
    }


def list_incidents(actor: Actor, status: str, page: int, per_page: int) -> InboxPage:
    """A page of incidents (open or resolved), newest first, with their instance."""
    if status not in ("open", "resolved"):
        raise BadRequest("BAD_FILTER", "状态只能是未处理或已处理", {"field": "status"})
    if page < 1 or page > MAX_PAGE or per_page not in PER_PAGE_CHOICES:
        raise BadRequest("BAD_PAGING", "页码或每页条数无效")
    query = (
        select(Incident, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
        .where(Incident.status == status)
    )
    clause = case_scope.scope_clause(actor, ProcessInstance.id)
    if clause is not None:
        query = query.where(clause)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(query.order_by(Incident.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    names = process_names()
    items = [
        {
            "id": incident.id,
            "instance_id": instance.public_id,
            "process_name": names.get(instance.process_key, instance.process_key),
            "business_key": instance.business_key,
            "task_spec": incident.task_spec,
            "operator": incident.operator,
            "code": incident.error_code,
            "message": incident.message,
            "attempts": incident.attempts,
            "created_at": incident.created_at,
            "resolved_by": incident.resolved_by,
            "resolved_at": incident.resolved_at,
        }
        for incident, instance in rows
    ]
    return InboxPage(items, total, page, per_page)


def _reason(reason: Any) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationFailed("REASON_REQUIRED", "请填写操作原因", {"fields": {"reason": "请填写操作原因"}})
    if len(text) > MAX_REASON:
        raise ValidationFailed(
            "REASON_TOO_LONG", f"操作原因不能超过{MAX_REASON}个字", {"fields": {"reason": "操作原因过长"}}
        )
    return text


def retry(platform: Platform, incident_id: int, actor: Actor, reason: Any = "") -> Incident:
    """Retry an incident's failed service task (audited; the reason is optional here, recorded if given)."""
    text = reason.strip()[:MAX_REASON] if isinstance(reason, str) else ""
    if not 0 < incident_id < 2**31:  # the id column is 32-bit: anything else is simply not found
        raise NotFound("INCIDENT_NOT_FOUND", "故障记录不存在", {"incident_id": incident_id})
    with transaction():
        incident = db.session.get(Incident, incident_id)
        if incident is not None and not case_scope.in_scope(platform, actor, incident.instance_id):
            raise NotFound("INCIDENT_NOT_FOUND", "故障记录不存在", {"incident_id": incident_id})
        incident = retry_incident(platform, incident_id, actor)
        audit.record("ops.retry", object_type="incident", object_id=str(incident_id), details={"reason": text})
    return incident


_CHANGES = {"suspend": suspend_instance, "resume": resume_instance, "cancel": cancel_instance}


def change_state(platform: Platform, public_id: str, action: str, actor: Actor, reason: Any) -> ProcessInstance:
    """Suspend, resume or cancel an instance with a mandatory reason (audited)."""
    change = _CHANGES.get(action)
    if change is None:
        raise NotFound("ACTION_NOT_FOUND", "不支持的操作")
    text = _reason(reason)
    with transaction():
        _visible_instance(platform, public_id, actor)
        instance = change(platform, public_id, actor, text)
        audit.record(f"ops.{action}", object_type="instance", object_id=public_id, details={"reason": text})
    return instance
