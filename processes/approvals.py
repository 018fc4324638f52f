"""Approval queues (issue 6 item 5): level-1 and level-2 queues, decide with a mandatory reason, decision history.

The decision completes the approval task through processes.tasks (so the four-eyes rule and object scope
apply exactly as for any task) and is audited as approval.approve / approval.reject / approval.return.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models import HumanTask, ProcessEvent, ProcessInstance, db
from processes import audit, tasks
from processes.errors import BadRequest, Forbidden, NotFound, ValidationFailed
from processes.forms import FormDefinition
from processes.inbox import InboxPage, inbox
from processes.platform import Platform
from processes.stepping import Actor, definition_meta
from processes.unit_of_work import transaction

MAX_REASON = 500
LEVEL_PERMISSIONS = {1: "approval.l1", 2: "approval.l2"}
# Decisions with their own audit event; any other choice of an approval form is audited as approval.decide.
AUDITED_DECISIONS = {"approve": "approval.approve", "reject": "approval.reject", "return": "approval.return"}


def allowed_levels(permissions: frozenset[str]) -> set[int]:
    """The approval levels a set of permission codes opens."""
    return {level for level, code in LEVEL_PERMISSIONS.items() if code in permissions}


def queue(actor: Actor, level: int, filters: tasks.TaskFilter, page: int, per_page: int) -> InboxPage:
    """The ready (or finished) approval tasks of one level that the actor may see."""
    if level not in LEVEL_PERMISSIONS:
        raise NotFound("QUEUE_NOT_FOUND", "审批队列不存在")
    filters.approval_level = level
    return inbox(actor, filters, page, per_page)


def approval_task(task_id: int, actor: Actor, levels: set[int]) -> HumanTask:
    """An approval task the actor may see and whose level their permissions open."""
    task = tasks.get_task(task_id, actor)
    if not task.approval_level:
        raise NotFound("NOT_AN_APPROVAL", "该任务不是审批任务", {"task_id": task_id})
    if task.approval_level not in levels:
        raise Forbidden("APPROVAL_LEVEL_DENIED", f"您没有{task.approval_level}级审批的权限")
    return task


def decision_fields(form: FormDefinition) -> tuple[Any, Any]:
    """(decision choice field, reason text field) of an approval form."""
    choice = next((f for f in form.fields if f.type == "choice" and f.name == "decision"), None) or next(
        (f for f in form.fields if f.type == "choice"), None
    )
    reason = next((f for f in form.fields if f.type == "text" and f.name == "comment"), None) or next(
        (f for f in form.fields if f.type == "text"), None
    )
    if choice is None or reason is None:
        raise BadRequest("FORM_NOT_APPROVAL", f"表单 {form.key} 不是审批表单（缺少结论或意见字段）")
    return choice, reason


def decide(platform: Platform, task_id: int, actor: Actor, levels: set[int], decision: Any, reason: Any) -> HumanTask:
    """Approve / reject / return (or the form's other choices) with a mandatory reason; audited."""
    task = approval_task(task_id, actor, levels)
    form = platform.form(task.form_key)
    choice, reason_field = decision_fields(form)
    errors: dict[str, str] = {}
    if decision not in [c[0] for c in choice.choices]:
        errors["decision"] = f"请选择{choice.label}"
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        errors["reason"] = "请填写审批意见（通过、不通过、退回都必须说明理由）"
    elif len(text) > min(MAX_REASON, reason_field.max_length or MAX_REASON):
        errors["reason"] = f"审批意见不能超过{min(MAX_REASON, reason_field.max_length or MAX_REASON)}个字"
    if errors:
        raise ValidationFailed("DECISION_INVALID", "审批信息不完整，请按提示修改", {"fields": errors})
    with transaction():
        data = {choice.name: decision, reason_field.name: text}
        task, _instance = tasks.complete_task(platform, task_id, data, actor)
        audit.record(
            AUDITED_DECISIONS.get(decision, "approval.decide"),
            object_type="task",
            object_id=str(task_id),
            details={"business_key": task.business_key, "level": task.approval_level, "decision": decision},
        )
    return task


def decision_history(platform: Platform, instance: ProcessInstance) -> list[dict[str, Any]]:
    """Every completed step of the case with who decided what and why, oldest first."""
    meta = definition_meta(platform, instance.definition_id).get("user_tasks", {})
    events = db.session.execute(
        select(ProcessEvent)
        .where(ProcessEvent.instance_id == instance.id, ProcessEvent.kind == "task_completed")
        .order_by(ProcessEvent.id)
    ).scalars()
    rows = []
    last: dict[str, dict[str, Any]] = {}
    for event in events:
        details = event.details or {}
        form = platform.forms.get(details.get("form") or meta.get(event.task_spec or "", {}).get("form_key") or "")
        changes = details.get("changes") or {}
        decision = label = comment = None
        if form is not None:
            try:
                choice, reason_field = decision_fields(form)
            except BadRequest:
                choice = reason_field = None
            if choice is not None:
                # The history keeps changed fields only: an unchanged value repeats this form's previous one.
                previous = last.get(form.key, {})
                decision = changes[choice.name][1] if choice.name in changes else previous.get("decision")
                comment = changes[reason_field.name][1] if reason_field.name in changes else previous.get("comment")
                last[form.key] = {"decision": decision, "comment": comment}
                label = dict(choice.choices).get(decision, decision)
        rows.append(
            {
                "at": event.at,
                "actor": event.actor,
                "task": event.task_name or event.task_spec,
                "level": int(meta.get(event.task_spec or "", {}).get("approval_level") or 0),
                "decision": decision,
                "decision_label": label,
                "comment": comment,
            }
        )
    return rows
