"""Statistics pages (C4.6): one screen per report with period filters, SVG charts, Excel export and print."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, abort, render_template, request, send_file

from processes import reports as service
from processes.errors import ValidationFailed
from processes.excel import write_report
from processes.inbox import process_names
from processes.reports import charts, figures, monthly, summary
from webapp.auth.guard import current_staff, require_permission
from webapp.staff import platform

reports = Blueprint("reports", __name__, url_prefix="/reports")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _today():
    return service.local_today(platform().settings.zone)


@reports.get("/")
@require_permission("report.view")
def index() -> Any:
    """The statistics screen: the reports, the kept monthly reports and when figures were last refreshed."""
    return render_template(
        "reports/index.html",
        reports=service.REPORTS,
        monthly_reports=monthly.list_monthly(),
        refreshed=summary.last_refresh(),
    )


def _build(name: str) -> tuple[dict[str, Any], figures.Period | None, dict | None]:
    if name not in service.REPORTS:
        abort(404)
    today = _today()
    error = None
    try:
        period = figures.parse_period(request.args, today)
    except ValidationFailed as exc:
        error = {"code": exc.code, "message": exc.message}
        period = figures.parse_period({}, today)
    report = service.run_report(name, period, today, process_names())
    return report, period, error


@reports.get("/<name>")
@require_permission("report.view")
def show(name: str) -> Any:
    """One report for the chosen period: tables, charts, print view."""
    report, period, error = _build(name)
    status = 422 if error else 200
    return (
        render_template(
            "reports/report.html",
            name=name,
            report=report,
            period=period,
            uses_period=service.REPORTS[name][1],
            charts=charts.charts_for(report),
            error=error,
            refreshed=summary.last_refresh(),
        ),
        status,
    )


@reports.get("/<name>.xlsx")
@require_permission("report.export")
def export(name: str) -> Any:
    """The report as a formatted Excel workbook (small: built in memory), audited."""
    from processes import audit

    report, period, error = _build(name)
    if error:
        return show(name)
    meta = [f"统计期间：{period.start} 至 {period.end}（{'按月' if period.group == 'month' else '按日'}）"]
    if not service.REPORTS[name][1]:
        meta = [f"统计时点：{_today()}"]
    meta.append(f"导出人：{current_staff().display_name}")
    buffer = io.BytesIO()
    write_report(buffer, report["title"], report["tables"], meta)
    buffer.seek(0)
    audit.log("export.excel", object_type="report", object_id=name, details={"period": period.as_dict()})
    filename = f"{name}-{period.start}-{period.end}.xlsx"
    return send_file(buffer, mimetype=XLSX, as_attachment=True, download_name=filename)


@reports.get("/monthly/<month>")
@require_permission("report.view")
def monthly_report(month: str) -> Any:
    """A kept monthly report exactly as it was generated."""
    kept = monthly.get_monthly(month[:7])
    if kept is None:
        abort(404)
    trend = []
    for other in reversed(monthly.list_monthly(12)):
        for section in other.data.get("sections", []):
            if section["title"].startswith("业务量（按业务类型）") and section.get("total"):
                trend.append((other.month, section["total"][-1] or 0))
    return render_template("reports/monthly.html", kept=kept, trend=charts.column_chart(trend, "近12个月业务量"))


@reports.get("/monthly/<month>.xlsx")
@require_permission("report.export")
def monthly_export(month: str) -> Any:
    """A kept monthly report as Excel."""
    from processes import audit

    kept = monthly.get_monthly(month[:7])
    if kept is None:
        abort(404)
    tables = [figures.Table(s["title"], s["columns"], s["rows"], s.get("total")) for s in kept.data.get("sections", [])]
    buffer = io.BytesIO()
    write_report(buffer, f"{kept.month} 月报", tables, [f"生成时间：{kept.generated_at:%Y-%m-%d %H:%M} UTC"])
    buffer.seek(0)
    audit.log("export.excel", object_type="monthly_report", object_id=kept.month)
    return send_file(buffer, mimetype=XLSX, as_attachment=True, download_name=f"monthly-{kept.month}.xlsx")
