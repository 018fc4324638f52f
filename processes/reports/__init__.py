"""Statistics and reports (issue 7, C4): daily summary, period reports, monthly report, charts, Excel.

Importing the package registers the `reports.daily_run` operator (report schedule) and the export job kind.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from processes.reports import figures
from processes.reports.monthly import daily_run, generate_monthly  # noqa: F401  (registers the operator)

# name → (title, needs a period)
REPORTS: dict[str, tuple[str, bool]] = {
    "cycle": ("制证周期", True),
    "production": ("制证导出导入", True),
    "deregistrations": ("注销与签注", True),
    "validity": ("有效与过期（实时）", False),
    "business": ("业务量", True),
    "deaths": ("死亡名单比对", False),
}


def run_report(name: str, period: figures.Period, today: date, names: dict[str, str] | None = None) -> dict[str, Any]:
    """One report's figures for the period."""
    if name == "cycle":
        return figures.production_cycle(period)
    if name == "production":
        return figures.production_counts(period)
    if name == "deregistrations":
        return figures.deregistrations_endorsements(period)
    if name == "validity":
        return figures.validity(today)
    if name == "business":
        return figures.business_volume(period, names)
    if name == "deaths":
        return figures.death_list_batches(today)
    raise KeyError(name)


def local_today(zone: Any) -> date:
    """Today's business date."""
    return datetime.now(zone).date()
