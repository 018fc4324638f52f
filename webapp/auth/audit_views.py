"""Audit administrator pages (S4): search with pagination, Excel export, chain verification."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from processes import audit
from processes.audit_search import EVENT_LABELS, RESULT_LABELS, AuditFilter, export_xlsx, oldest_record_at, search
from processes.audit_verify import get_check, problems_of, start_check
from processes.errors import ProcessError
from processes.paging import page_or_first
from processes.platform import get_platform
from webapp.auth.guard import current_staff, require_permission

audit_pages = Blueprint("audit", __name__, url_prefix="/audit")
PER_PAGE = 50


@audit_pages.get("")
@require_permission("audit.view")
def index() -> Any:
    """Search the audit trail."""
    settings = get_platform().settings
    errors: dict[str, str] = {}
    try:
        filters = AuditFilter.from_args(request.args, settings.zone)
    except ProcessError as exc:
        filters, errors = AuditFilter(), exc.details.get("fields", {})
    page = page_or_first(request.args.get("page"))
    rows, total = search(filters, settings.zone, page, PER_PAGE)
    if request.args:
        audit.log("audit.search", object_type="audit_log", details=filters.as_dict())
    return render_template(
        "audit/search.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        filters=filters,
        errors=errors,
        zone=settings.zone,
        event_labels=EVENT_LABELS,
        result_labels=RESULT_LABELS,
        retention_days=settings.AUDIT_RETENTION_DAYS,
        oldest=oldest_record_at(),
    ), (422 if errors else 200)


@audit_pages.get("/export")
@require_permission("audit.export")
def export() -> Any:
    """The matching rows as an Excel file (the export itself is audited)."""
    settings = get_platform().settings
    filters = AuditFilter.from_args(request.args, settings.zone)
    content, _count = export_xlsx(filters, settings.zone)
    return Response(
        content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=audit-log.xlsx"},
    )


@audit_pages.post("/verify")
@require_permission("audit.view")
def verify() -> Any:
    """Start a background check of the hash chain; its page shows progress, then what was found."""
    staff = current_staff()
    run_id = start_check(get_platform(), staff.username if staff else None)
    return redirect(url_for("audit.verify_status", run_id=run_id))


@audit_pages.get("/verify/<int:run_id>")
@require_permission("audit.view")
def verify_status(run_id: int) -> Any:
    """Progress of a chain check (the page reloads itself until the check has finished), then its result."""
    run = get_check(run_id)
    return render_template("audit/verify.html", run=run, problems=problems_of(run))
