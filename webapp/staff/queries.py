"""Business query pages (C3.4): one screen, permission-graded columns, filters, pages, background export, print."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, send_file, url_for

from processes import queries as service
from processes.errors import ProcessError
from processes.queries import exports
from processes.queries.base import PER_PAGE_CHOICES, describe_filters
from webapp.auth.guard import current_staff, has_permission, require_permission
from webapp.staff import filter_args, filter_source, platform

queries = Blueprint("queries", __name__, url_prefix="/queries")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _spec(name: str) -> service.QuerySpec:
    spec = service.QUERIES.get(name)
    if spec is None:
        abort(404)
    return spec


def _wants_unmask(source: Any) -> bool:
    # Full ID numbers only when asked for AND permitted; otherwise the request silently stays masked.
    # (Exports: processes.queries.exports takes the decision as given; pages: run_query decides itself.)
    return source.get("unmask") == "1" and has_permission("person.unmask")


@queries.get("/")
@require_permission("report.view")
def index() -> Any:
    """The query screen: every query by requirement group."""
    return render_template("queries/index.html", queries=service.QUERIES)


def _id_keys(spec: service.QuerySpec) -> tuple[str, ...]:
    return tuple(f.key for f in spec.filters if f.kind == "id_number")


@queries.route("/<name>", methods=["GET", "POST"])
@require_permission("report.view")
def show(name: str) -> Any:
    """One query: filters (POSTed when they hold an ID number), a page of (masked) results, export and print."""
    spec = _spec(name)
    source = filter_source(_id_keys(spec))
    args = filter_args(source)
    page, per_page = service.parse_page(source)
    error, result, filters = None, None, {}
    try:
        filters = service.parse_filters(spec, source)
        result = service.run_query(
            spec,
            filters,
            page,
            per_page,
            unmask=source.get("unmask") == "1",
            permissions=current_staff().permissions,  # the service decides whether to unmask
        )
        for key, value in filters.items():  # a defaulted period stays the same when paging or exporting
            args.setdefault(key, value.isoformat() if hasattr(value, "isoformat") else value)
    except ProcessError as exc:
        error = {"code": exc.code, "message": exc.message}
    return (
        render_template(
            "queries/query.html",
            spec=spec,
            result=result,
            args=args,
            error=error,
            filters=filters,
            conditions=describe_filters(spec, filters),
            per_page_choices=PER_PAGE_CHOICES,
            can_unmask=has_permission("person.unmask") and spec.personal(),
            can_export=has_permission("report.export"),
            exports=exports.recent_exports(current_staff().username, 5),
        ),
        422 if error else 200,
    )


@queries.post("/<name>/export")
@require_permission("report.export")
def export(name: str) -> Any:
    """Start a background export of every row matching the filters; answers with the job to poll."""
    spec = _spec(name)
    try:
        filters = service.parse_filters(spec, request.form)
        job = exports.request_export(platform(), name, filters, _wants_unmask(request.form), current_staff().username)
    except ProcessError as exc:
        if request.accept_mimetypes.best == "application/json":
            return jsonify(exc.as_dict()), exc.status
        # Back to the query with its filters, except ID numbers: they never go into a URL.
        carried = {k: v for k, v in _form_args(request.form).items() if k not in _id_keys(spec)}
        return redirect(url_for("queries.show", name=name, export_error=exc.code, **carried))
    if request.accept_mimetypes.best == "application/json":
        return jsonify(_job_json(job)), 202
    return redirect(url_for("queries.export_page", public_id=job.public_id))


def _form_args(form: Any) -> dict[str, str]:
    return {k: v for k, v in form.items() if k not in ("csrf_token",) and v}


def _job_json(job: Any) -> dict[str, Any]:
    return {
        "id": job.public_id,
        "query": job.kind,
        "status": job.status,
        "status_label": exports.STATUS_LABELS.get(job.status, job.status),
        "total": job.total,
        "done": job.done,
        "error": "导出失败，请缩小查询范围后重试" if job.status == "failed" else None,
        "download": url_for("queries.download", public_id=job.public_id) if job.status == "done" else None,
    }


@queries.get("/exports/<public_id>")
@require_permission("report.export")
def export_page(public_id: str) -> Any:
    """The export's progress page (polls the status URL, then offers the download)."""
    try:
        job = exports.export_status(public_id, current_staff().username)
    except ProcessError:
        abort(404)
    return render_template("queries/export.html", job=_job_json(job), spec=service.QUERIES.get(job.kind))


@queries.get("/exports/<public_id>/status")
@require_permission("report.export")
def export_status(public_id: str) -> Any:
    """The export's progress as JSON (what the page polls)."""
    try:
        job = exports.export_status(public_id, current_staff().username)
    except ProcessError as exc:
        return jsonify(exc.as_dict()), exc.status
    return jsonify(_job_json(job))


@queries.get("/exports/<public_id>/download")
@require_permission("report.export")
def download(public_id: str) -> Any:
    """The finished Excel file (audited)."""
    try:
        path, job = exports.export_file(platform(), public_id, current_staff().username)
    except ProcessError:
        abort(404)
    return send_file(path, mimetype=XLSX, as_attachment=True, download_name=f"{job.kind}-{job.public_id}.xlsx")
