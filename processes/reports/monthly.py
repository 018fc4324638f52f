"""The monthly report (C4.2), generated on the 1st by the report schedule and kept, and the daily refresh run."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from handlers.registry import operator
from models import db
from models.reports import MonthlyReport
from processes.reports import figures
from processes.reports.summary import refresh

MONTHLY_SECTIONS = (
    ("cycle", figures.production_cycle),
    ("production", figures.production_counts),
    ("deregistrations", figures.deregistrations_endorsements),
    ("business", figures.business_volume),
)


def month_period(month: str) -> figures.Period:
    """The whole month "YYYY-MM" as a period grouped by day."""
    first = date.fromisoformat(month + "-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return figures.Period(first, following - timedelta(days=1), "day")


def previous_month(today: date) -> str:
    """ "YYYY-MM" of the month before today's."""
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def build_monthly(month: str, zone: Any) -> dict[str, Any]:
    """The figures of a month (its days recomputed first), as JSON-ready data."""
    period = month_period(month)
    refresh(period.start, period.end, zone)
    month_only = figures.Period(period.start, period.end, "month")
    sections = []
    for _key, build in MONTHLY_SECTIONS:
        report = build(month_only)
        for table in report["tables"]:
            sections.append(
                {
                    "title": table.title,
                    "columns": table.columns,
                    "rows": [[_cell(c) for c in row] for row in table.rows],
                    "total": [_cell(c) for c in table.total] if table.total else None,
                }
            )
    live = figures.validity(period.end)
    for table in live["tables"]:
        sections.append({"title": table.title, "columns": table.columns, "rows": table.rows, "total": None})
    return {"month": month, "start": period.start.isoformat(), "end": period.end.isoformat(), "sections": sections}


def generate_monthly(month: str, zone: Any, by: str, replace: bool = False) -> MonthlyReport:
    """Generate and keep the report of a month, in the caller's transaction; an existing one is kept as it was."""
    existing = db.session.execute(select(MonthlyReport).where(MonthlyReport.month == month)).scalar_one_or_none()
    if existing is not None and not replace:
        return existing
    data = build_monthly(month, zone)
    if existing is not None:
        existing.data, existing.generated_by, existing.generated_at = data, by, datetime.now(zone)
        return existing
    report = MonthlyReport(month=month, generated_by=by, data=data)
    db.session.add(report)
    db.session.flush()
    return report


def list_monthly(limit: int = 36) -> list[MonthlyReport]:
    """The kept monthly reports, newest first."""
    return list(db.session.execute(select(MonthlyReport).order_by(MonthlyReport.month.desc()).limit(limit)).scalars())


def get_monthly(month: str) -> MonthlyReport | None:
    """One kept monthly report."""
    return db.session.execute(select(MonthlyReport).where(MonthlyReport.month == month)).scalar_one_or_none()


@operator("reports.daily_run", transactional=True)
def daily_run(*, refresh_days: int = 3, as_of: str = "") -> dict[str, Any]:
    """Recompute the summary of the last days; on (or after) the 1st, generate last month's report once.

    Also deletes export files older than EXPORT_KEEP_HOURS (personal data must not linger on disk).
    """
    from processes.platform import get_platform
    from processes.queries.exports import purge_expired_exports

    settings = get_platform().settings
    purged = purge_expired_exports(settings)
    zone = settings.zone
    today = date.fromisoformat(as_of) if as_of else datetime.now(zone).date()
    refreshed = refresh(today - timedelta(days=max(refresh_days, 1) - 1), today, zone)
    month = previous_month(today)
    created = get_monthly(month) is None
    generate_monthly(month, zone, "scheduler")
    return {
        "as_of": today.isoformat(),
        "rows": refreshed["rows"],
        "month": month,
        "generated": created,
        "exports_purged": purged,
    }
