"""Operations console pages: instance search and detail (diagram, history, data), incidents, state changes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from processes import ops_console as service
from processes.errors import ValidationFailed
from processes.inbox import PER_PAGE_CHOICES, process_names
from webapp.auth.guard import require_permission
from webapp.redirects import local_path
from webapp.staff import filter_args, filter_source, platform, staff_actor

ops_console = Blueprint("ops_console", __name__, url_prefix="/console")

ACTION_LABELS = {"suspend": "挂起", "resume": "恢复", "cancel": "撤销"}


@ops_console.route("/instances", methods=["GET", "POST"])
@require_permission("ops.view")
def instances() -> Any:
    """Instance search: process, status, business key, ID number (POSTed, never in the URL), dates; paged."""
    source = filter_source()
    filters, page, per_page = service.parse_instance_filters(source)
    result = service.search_instances(platform(), staff_actor(), filters, page, per_page)
    args = filter_args(source)
    return render_template(
        "ops/instances.html",
        result=result,
        filters=filters,
        args=args,
        processes=process_names(),
        statuses=service.STATUSES,
        districts=service.case_scope.SHANGHAI_DISTRICTS,
        unknown_district=service.UNKNOWN_DISTRICT,
        per_page_choices=PER_PAGE_CHOICES,
    )


def _render_instance(public_id: str, status: int = 200, error: dict | None = None) -> Any:
    detail = service.instance_detail(platform(), public_id[:64], staff_actor())
    return render_template("ops/instance.html", d=detail, error=error, actions=ACTION_LABELS), status


@ops_console.get("/instances/<public_id>")
@require_permission("ops.view")
def instance(public_id: str) -> Any:
    """One instance: diagram with the current task highlighted, data (masked), history, incidents."""
    return _render_instance(public_id)


@ops_console.post("/instances/<public_id>/<action>")
@require_permission("ops.act")
def change(public_id: str, action: str) -> Any:
    """Suspend, resume or cancel with a mandatory reason."""
    try:
        service.change_state(platform(), public_id[:64], action[:16], staff_actor(), request.form.get("reason", ""))
    except ValidationFailed as exc:
        error = {"code": exc.code, "message": exc.message, "action": action}
        return _render_instance(public_id, 422, error)
    flash(f"已{ACTION_LABELS.get(action, action)}该流程实例", "success")
    return redirect(url_for("ops_console.instance", public_id=public_id))


@ops_console.get("/incidents")
@require_permission("ops.view")
def incidents() -> Any:
    """Open (or resolved) incidents with a retry button."""
    status = request.args.get("status") or "open"
    try:
        page = int(request.args.get("page") or 1)
        per_page = int(request.args.get("per_page") or 20)
    except ValueError:
        page, per_page = 0, 0  # the service answers 400 with a Chinese message
    result = service.list_incidents(staff_actor(), status, page, per_page)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("ops/incidents.html", result=result, status=status, args=args)


@ops_console.post("/incidents/<int:incident_id>/retry")
@require_permission("ops.act")
def retry(incident_id: int) -> Any:
    """Retry the failed service task of an incident."""
    service.retry(platform(), incident_id, staff_actor(), request.form.get("reason", ""))
    flash("已重新执行故障环节", "success")
    target = local_path(request.form.get("next"))
    if target:
        return redirect(target)
    return redirect(url_for("ops_console.incidents"))
