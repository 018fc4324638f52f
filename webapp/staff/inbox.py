"""Clerk inbox pages: my tasks with filters and paging; a task with its case, form, photo and e-licences."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from processes import case_files
from processes import inbox as service
from processes.errors import ValidationFailed
from webapp.auth.guard import require_permission
from webapp.redirects import local_path
from webapp.staff import filter_args, filter_source, platform, staff_actor
from webapp.staff.forms_wtf import apply_errors, build_form, cleaned
from webapp.staff.security_headers import file_headers

inbox = Blueprint("inbox", __name__, url_prefix="/inbox")


@inbox.route("/", methods=["GET", "POST"])
@require_permission("inbox.view")
def index() -> Any:
    """My queue: tasks of my roles (and district), filters (POSTed when they hold an ID number), paging."""
    source = filter_source()
    filters, page, per_page = service.parse_filters(source)
    actor = staff_actor()
    if source.get("mine"):
        filters.assignee = actor.name
    if source.get("point") == "mine":
        filters.service_point = actor.extra.get("service_point") or "-"  # no point of my own: nothing matches
    result = service.inbox(actor, filters, page, per_page)
    args = filter_args(source)
    return render_template(
        "inbox/index.html",
        result=result,
        filters=filters,
        args=args,
        processes=service.process_names(),
        per_page_choices=service.PER_PAGE_CHOICES,
    )


def _render_task(task_id: int, form=None, status: int = 200, unmask: bool = False, error=None) -> Any:
    detail = service.task_detail(platform(), task_id, staff_actor(), unmask=unmask)
    if detail["unmask_refused"]:
        flash("您没有查看完整个人信息的权限，已按脱敏方式显示", "warning")
    if form is None and detail["form"] is not None:
        form = build_form(detail["form"], current=detail["current"])
    return render_template("inbox/task.html", d=detail, form=form, error=error), status


@inbox.get("/tasks/<int:task_id>")
@require_permission("inbox.view")
def task(task_id: int) -> Any:
    """One task: case data (masked), latest photo (A4), e-licences (A5), history and the task's form."""
    return _render_task(task_id, unmask=request.args.get("unmask") == "1")  # the service checks person.unmask


@inbox.get("/tasks/<int:task_id>/photo")
@require_permission("case.view")
def photo(task_id: int) -> Any:
    """A4: the newest photo of the case's subject only (PNG or JPEG, sandboxed)."""
    content, mime = case_files.latest_photo_of_case(platform(), task_id, staff_actor())
    return Response(content, mimetype=mime, headers=file_headers())


@inbox.get("/tasks/<int:task_id>/licences/<licence_no>")
@require_permission("case.view")
def licence(task_id: int, licence_no: str) -> Any:
    """A5: one of the case's e-licences (PDF, PNG or JPEG), shown inline and sandboxed in the viewer panel."""
    content, mime = case_files.licence_file(platform(), task_id, licence_no[:64], staff_actor())
    return Response(content, mimetype=mime, headers=file_headers())


def _back(task_id: int) -> Any:
    target = local_path(request.form.get("next"))
    if target:
        return redirect(target)
    return redirect(url_for("inbox.task", task_id=task_id))


@inbox.post("/tasks/<int:task_id>/claim")
@require_permission("task.work")
def claim(task_id: int) -> Any:
    """Take the task."""
    service.claim(task_id, staff_actor())
    flash("已认领任务", "success")
    return _back(task_id)


@inbox.post("/tasks/<int:task_id>/unclaim")
@require_permission("task.work")
def unclaim(task_id: int) -> Any:
    """Give the task back to the queue."""
    service.unclaim(task_id, staff_actor())
    flash("已退回任务池", "success")
    return redirect(url_for("inbox.index"))


@inbox.post("/tasks/<int:task_id>/assign")
@require_permission("task.work")
def assign(task_id: int) -> Any:
    """Delegate the task to a colleague."""
    task = service.assign(task_id, staff_actor(), request.form.get("assignee", ""))
    flash(f"已转交给 {task.assignee}", "success")
    return redirect(url_for("inbox.index"))


@inbox.post("/tasks/<int:task_id>/complete")
@require_permission("task.work")
def complete(task_id: int) -> Any:
    """Submit the task's form: WTForms checks it here, processes.forms again in the service."""
    actor = staff_actor()
    detail_form = service.task_form_definition(platform(), task_id, actor)
    form = build_form(detail_form, formdata=request.form)
    if not form.validate():
        error = {"code": "FORM_INVALID", "message": "表单填写有误，请按提示修改"}
        return _render_task(task_id, form=form, status=422, error=error)
    try:
        service.complete(platform(), task_id, cleaned(detail_form, form), actor)
    except ValidationFailed as exc:
        apply_errors(form, (exc.details or {}).get("fields", {}))
        return _render_task(task_id, form=form, status=422, error={"code": exc.code, "message": exc.message})
    flash("任务已办结", "success")
    return redirect(url_for("inbox.index"))
