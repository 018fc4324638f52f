"""Data modification and business change screens (C1.4 / C2.5): grouped by business type, scoped by role."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from processes import audit
from processes.changes import death_list, rare_chars
from processes.changes import service as changes
from processes.changes.registry import GROUPS, SECTIONS, value_label
from processes.errors import ProcessError, ValidationFailed
from processes.paging import page_or_first
from webapp.auth.guard import current_staff, require_permission
from webapp.staff import platform, staff_actor

blueprint = Blueprint("changes", __name__, url_prefix="/changes")


FORM_STATUSES = (400, 409, 413, 422)  # bad input shown again on its form; other errors go to the error page


def _error(exc: ProcessError) -> dict[str, Any]:
    if exc.status not in FORM_STATUSES:
        raise exc
    return {"code": exc.code, "message": exc.message, "fields": (exc.details or {}).get("fields", {})}


def _grouped(types: list) -> list[dict[str, Any]]:
    sections = []
    for section, label in SECTIONS.items():
        groups = [
            {"code": code, "label": group_label, "types": [t for t in types if t.group == code]}
            for code, (sec, group_label) in GROUPS.items()
            if sec == section
        ]
        groups = [g for g in groups if g["types"]]
        if groups:
            sections.append({"code": section, "label": label, "groups": groups})
    return sections


@blueprint.get("/")
@require_permission("data.change")
def index() -> Any:
    """The change screen: the types my role may submit, grouped by business type, and the requests."""
    status, group = request.args.get("status") or None, request.args.get("group") or None
    mine = request.args.get("mine") == "1"
    page = page_or_first(request.args.get("page"))
    result = changes.list_requests(
        staff_actor(),
        status=status if status in changes.STATUS_LABELS else None,
        group=group if group in GROUPS else None,
        submitted_by=current_staff().username if mine else None,
        page=page,
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "changes/index.html",
        sections=_grouped(changes.submittable(staff_actor())),
        result=result,
        args=args,
        groups=GROUPS,
        statuses=changes.STATUS_LABELS,
        filters={"status": status, "group": group, "mine": mine},
    )


def _type_or_404(code: str):
    change_type = next((t for t in changes.submittable(staff_actor()) if t.code == code), None)
    if change_type is None:
        abort(404)
    return change_type


def _render_new(change_type, status: int = 200, error: dict | None = None, values: dict | None = None) -> Any:
    return render_template("changes/new.html", t=change_type, error=error, values=values or {}), status


def _upload(file_storage) -> changes.Upload:
    return changes.Upload(file_storage.read(), file_storage.mimetype or "")


@blueprint.get("/new/<code>")
@require_permission("data.change")
def new(code: str) -> Any:
    """The request form of one change type."""
    return _render_new(_type_or_404(code))


@blueprint.post("/new/<code>")
@require_permission("data.change")
def create(code: str) -> Any:
    """Submit a change request: it goes to the approval queues; nothing changes until final approval."""
    change_type = _type_or_404(code)
    values = {f.name: request.form.get(f.name, "") for f in change_type.form.fields if f.type != "file"}
    reason = request.form.get("reason", "")
    data = {k: v for k, v in values.items() if v != ""}
    files = {
        f.name: _upload(request.files[f.name])
        for f in change_type.form.fields
        if f.type == "file" and request.files.get(f.name) is not None and request.files[f.name].filename
    }
    attachments = [_upload(u) for u in request.files.getlist("attachments") if u and u.filename]
    try:
        # Files are stored only once the whole request has passed its checks (no orphans when refused).
        row = changes.submit_with_uploads(platform(), staff_actor(), code, data, reason, files, attachments)
    except ProcessError as exc:
        return _render_new(change_type, exc.status, _error(exc), values | {"reason": reason})
    flash(f"变更申请 {row.number} 已提交，等待审批", "success")
    return redirect(url_for("changes.detail", number=row.number))


@blueprint.get("/requests/<number>")
@require_permission("change.view")
def detail(number: str) -> Any:
    """One change request: what it changes (before → requested → after), its state and its approval."""
    d = changes.request_detail(staff_actor(), number)
    audit.log("change.view", object_type="change_request", object_id=number)
    return render_template("changes/detail.html", d=d, mask=changes.display_value, label=value_label)


@blueprint.post("/requests/<number>/withdraw")
@require_permission("data.change")
def withdraw(number: str) -> Any:
    """The submitter withdraws a request still in approval."""
    try:
        changes.withdraw(platform(), staff_actor(), number, request.form.get("reason", ""))
    except ProcessError as exc:
        _error(exc)
        flash(f"{exc.message}（{exc.code}）", "error")
        return redirect(url_for("changes.detail", number=number))
    flash(f"变更申请 {number} 已撤回，数据未作任何修改", "success")
    return redirect(url_for("changes.detail", number=number))


@blueprint.get("/death-list")
@require_permission("data.change")
def death_lists() -> Any:
    """Death-list import: template, upload, and the import log."""
    return render_template("changes/death_list.html", imports=death_list.list_imports(), error=None)


@blueprint.get("/death-list/template.xlsx")
@require_permission("data.change")
def death_list_template() -> Response:
    """The Excel template to fill in."""
    return Response(
        death_list.template_bytes(),
        mimetype=death_list.XLSX_MIME,
        headers={"Content-Disposition": "attachment; filename=death_list_template.xlsx"},
    )


@blueprint.post("/death-list")
@require_permission("data.change")
def death_list_upload() -> Any:
    """Upload a filled-in death list; the per-row validation report follows."""
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed("DEATH_LIST_EMPTY", "请选择要上传的Excel文件")
        batch = death_list.upload(platform(), staff_actor(), upload.filename, upload.read())
    except ProcessError as exc:
        error = _error(exc)
        return render_template("changes/death_list.html", imports=death_list.list_imports(), error=error), exc.status
    return redirect(url_for("changes.death_list_report", batch_ref=batch.batch_ref))


@blueprint.get("/death-list/<batch_ref>")
@require_permission("data.change")
def death_list_report(batch_ref: str) -> Any:
    """The validation report (and, once imported, the import log) of one file."""
    batch = death_list.get_import(batch_ref)
    return render_template(
        "changes/death_list_report.html", batch=batch, rows=death_list.import_rows(batch), error=None
    )


@blueprint.post("/death-list/<batch_ref>/submit")
@require_permission("data.change")
def death_list_submit(batch_ref: str) -> Any:
    """Submit a validated file for two-level approval."""
    try:
        row = changes.submit(
            platform(), staff_actor(), "death_list_import", {"batch_ref": batch_ref}, request.form.get("reason", "")
        )
    except ProcessError as exc:
        error = _error(exc)
        batch = death_list.get_import(batch_ref)
        rows = death_list.import_rows(batch)
        return render_template("changes/death_list_report.html", batch=batch, rows=rows, error=error), exc.status
    flash(f"死亡名单导入申请 {row.number} 已提交，等待审批", "success")
    return redirect(url_for("changes.detail", number=row.number))


@blueprint.get("/rare-characters")
@require_permission("data.change")
def rare_characters() -> Any:
    """The rare-character library used by card export."""
    return render_template("changes/rare_chars.html", rows=rare_chars.library())
