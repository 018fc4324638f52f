"""Approval pages: level-1 and level-2 queues, one approval with the case and its decision history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from processes import approvals as service
from processes import inbox as inbox_service
from processes.errors import ValidationFailed
from webapp.auth.guard import current_staff, require_permission
from webapp.staff import platform, staff_actor

approvals = Blueprint("approvals", __name__, url_prefix="/approvals")


def _queue(level: int) -> Any:
    filters, page, per_page = inbox_service.parse_filters(request.args)
    result = service.queue(staff_actor(), level, filters, page, per_page)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "approvals/queue.html",
        level=level,
        result=result,
        filters=filters,
        args=args,
        processes=inbox_service.process_names(),
        endpoint=f"approvals.queue_l{level}",
    )


@approvals.get("/level1")
@require_permission("approval.l1")
def queue_l1() -> Any:
    """Level-1 approval queue."""
    return _queue(1)


@approvals.get("/level2")
@require_permission("approval.l2")
def queue_l2() -> Any:
    """Level-2 approval queue."""
    return _queue(2)


def _levels() -> set[int]:
    return service.allowed_levels(current_staff().permissions)


def _render(task_id: int, status: int = 200, error: dict | None = None, values: dict | None = None) -> Any:
    actor = staff_actor()
    task = service.approval_task(task_id, actor, _levels())
    detail = inbox_service.task_detail(platform(), task.id, actor, unmask=False)
    choice, _reason = service.decision_fields(detail["form"])
    return render_template(
        "approvals/task.html",
        d=detail,
        choices=choice.choices,
        choice_label=choice.label,
        decisions=service.decision_history(platform(), detail["instance"]),
        error=error,
        values=values or {},
    ), status


@approvals.get("/tasks/<int:task_id>")
@require_permission("case.view")
def task(task_id: int) -> Any:
    """One approval: the case, its decision history and the decision form."""
    return _render(task_id)


@approvals.post("/tasks/<int:task_id>/decide")
@require_permission("task.work")
def decide(task_id: int) -> Any:
    """Approve, reject or return with a mandatory reason (four-eyes enforced by the service)."""
    decision, reason = request.form.get("decision", ""), request.form.get("reason", "")
    try:
        task = service.decide(platform(), task_id, staff_actor(), _levels(), decision, reason)
    except ValidationFailed as exc:
        error = {"code": exc.code, "message": exc.message, "fields": (exc.details or {}).get("fields", {})}
        return _render(task_id, 422, error, {"decision": decision, "reason": reason})
    flash("审批意见已提交", "success")
    return redirect(url_for(f"approvals.queue_l{task.approval_level}"))
