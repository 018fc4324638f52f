"""Daily summary facts (report_daily_stat): recomputed whole days at a time from the business tables.

Every period report adds up days here, so a report over a year reads a few thousand summary rows instead of
millions of permits and events (the ≤ 2 s target at 1,000,000 permits / 5,000,000 events). The scheduler
recomputes the last few days (processes.reports.monthly.daily_run); `refresh(None, None)` rebuilds all,
e.g. after `permitflow demo-data --scale`. A day is deleted and re-inserted in one transaction, so a reader
sees either the old or the new figures of a day, never half.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import Date, and_, case, cast, delete, exists, func, insert, literal, select, true
from sqlalchemy.sql.elements import ColumnElement

from models import (
    ChannelClient,
    Deregistration,
    Endorsement,
    Permit,
    Photo,
    ProcessEvent,
    ProcessInstance,
    ProductionBatch,
    ProductionItem,
    ResidenceRegistration,
    db,
)
from models.reports import ReportDailyStat, ReportRefresh

# The step kinds whose duration (since the instance's previous step) is a node's processing time.
NODE_KINDS = ("task_completed", "service_completed")
METRICS = (
    "permit_applied",
    "card_cycle",
    "node_time",
    "production_exported",
    "production_imported",
    "deregistration",
    "endorsement",
    "registration",
    "business",
    "photo",
)


@dataclass(frozen=True)
class Window:
    """A range of business days [first, last] and the UTC instants bounding it."""

    first: date | None
    last: date | None
    zone: Any

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """UTC start (inclusive) and end (exclusive) of the window."""
        start = datetime.combine(self.first, dtime(), self.zone).astimezone(UTC) if self.first else None
        end = datetime.combine(self.last + timedelta(days=1), dtime(), self.zone).astimezone(UTC) if self.last else None
        return start, end

    def on(self, column: Any) -> ColumnElement[bool]:
        """The window as a condition on a UTC timestamp column (index-friendly range)."""
        start, end = self.bounds()
        parts = [column.is_not(None)]
        if start is not None:
            parts.append(column >= start)
        if end is not None:
            parts.append(column < end)
        return and_(*parts)

    def on_date(self, column: Any) -> ColumnElement[bool]:
        """The window as a condition on a date column."""
        parts = [column.is_not(None)]
        if self.first:
            parts.append(column >= self.first)
        if self.last:
            parts.append(column <= self.last)
        return and_(*parts)


def local_day(column: Any, zone: Any) -> ColumnElement[Any]:
    """The business-zone date of a UTC timestamp column, in SQL."""
    if db.engine.dialect.name == "postgresql":
        return cast(func.timezone(str(zone), column), Date)
    # SQLite keeps naive UTC text; the business zone (Asia/Shanghai) has had no daylight saving since 1991.
    hours = int(datetime.now(zone).utcoffset().total_seconds() // 3600)
    return func.date(column, f"{hours:+d} hours")


def seconds_between(later: Any, earlier: Any) -> ColumnElement[float]:
    """later - earlier in seconds, in SQL."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _fact(metric: str, day: Any, dim: Any = None, dim2: Any = None, n: Any = None, secs: Any = None) -> Any:
    columns = [
        literal(metric).label("metric"),
        day.label("day"),
        func.coalesce(dim, "").label("dim") if dim is not None else literal("").label("dim"),
        func.coalesce(dim2, "").label("dim2") if dim2 is not None else literal("").label("dim2"),
        (n if n is not None else func.count()).label("n"),
        func.coalesce(secs, 0.0).label("total_seconds") if secs is not None else literal(0.0).label("total_seconds"),
    ]
    return columns


def _grouped(columns: list[Any], *source: Any) -> Any:
    return select(*columns).select_from(*source).group_by(columns[1], columns[2], columns[3])


def fact_selects(window: Window) -> list[Any]:
    """One SELECT per metric producing (metric, day, dim, dim2, n, total_seconds) rows for the window."""
    zone = window.zone
    express = case((Permit.express == true(), "express"), else_="normal")
    selects = []

    day = local_day(Permit.created_at, zone)
    selects.append(_grouped(_fact("permit_applied", day, express), Permit).where(window.on(Permit.created_at)))

    day = local_day(Permit.issued_at, zone)
    secs = func.sum(seconds_between(Permit.issued_at, Permit.created_at))
    selects.append(
        _grouped(_fact("card_cycle", day, express, None, None, secs), Permit).where(window.on(Permit.issued_at))
    )

    selects.append(_node_times(window))

    batch_express = case((ProductionBatch.express == true(), "express"), else_="normal")
    day = local_day(ProductionBatch.exported_at, zone)
    selects.append(
        _grouped(_fact("production_exported", day, batch_express), ProductionItem)
        .join(ProductionBatch, ProductionBatch.id == ProductionItem.batch_id)
        .where(window.on(ProductionBatch.exported_at))
    )
    day = local_day(ProductionBatch.imported_at, zone)
    selects.append(
        _grouped(_fact("production_imported", day, ProductionItem.result, batch_express), ProductionItem)
        .join(ProductionBatch, ProductionBatch.id == ProductionItem.batch_id)
        .where(window.on(ProductionBatch.imported_at))
    )

    day = local_day(Deregistration.created_at, zone)
    selects.append(
        _grouped(_fact("deregistration", day, Deregistration.reason, Deregistration.source), Deregistration).where(
            window.on(Deregistration.created_at)
        )
    )
    selects.append(
        _grouped(_fact("endorsement", Endorsement.endorsed_on, Endorsement.kind), Endorsement).where(
            window.on_date(Endorsement.endorsed_on)
        )
    )
    day = local_day(ResidenceRegistration.created_at, zone)
    selects.append(
        _grouped(
            _fact("registration", day, ResidenceRegistration.channel, ResidenceRegistration.district),
            ResidenceRegistration,
        ).where(window.on(ResidenceRegistration.created_at))
    )
    day = local_day(ProcessInstance.created_at, zone)
    channel = func.coalesce(ChannelClient.code, "staff")
    selects.append(
        _grouped(_fact("business", day, ProcessInstance.process_key, channel), ProcessInstance)
        .outerjoin(ChannelClient, ChannelClient.id == ProcessInstance.channel_id)
        .where(window.on(ProcessInstance.created_at))
    )
    day = local_day(Photo.taken_at, zone)
    used = case(
        (
            exists().where(Permit.photo_id == Photo.id) | exists().where(ResidenceRegistration.photo_id == Photo.id),
            "used",
        ),
        else_="unused",
    )
    selects.append(_grouped(_fact("photo", day, Photo.source, used), Photo).where(window.on(Photo.taken_at)))
    return selects


def _node_times(window: Window) -> Any:
    # A node's time is from the instance's previous step to the step that completed the node.
    previous = func.lag(ProcessEvent.at).over(partition_by=ProcessEvent.instance_id, order_by=ProcessEvent.id)
    steps = select(
        ProcessEvent.instance_id,
        ProcessEvent.at,
        ProcessEvent.kind,
        ProcessEvent.task_spec,
        ProcessEvent.task_name,
        previous.label("prev_at"),
    )
    start, end = window.bounds()
    if start is not None or end is not None:
        # Only instances with a step in the window; their earlier steps still give the first step's start.
        touched = select(ProcessEvent.instance_id).where(window.on(ProcessEvent.at)).distinct()
        steps = steps.where(ProcessEvent.instance_id.in_(touched))
    steps = steps.subquery("steps")
    day = local_day(steps.c.at, window.zone)
    dim = ProcessInstance.process_key + "|" + func.coalesce(func.substr(steps.c.task_name, 1, 60), "")
    secs = func.sum(seconds_between(steps.c.at, steps.c.prev_at))
    return (
        _grouped(_fact("node_time", day, dim, func.substr(steps.c.task_spec, 1, 60), None, secs), steps)
        .join(ProcessInstance, ProcessInstance.id == steps.c.instance_id)
        .where(window.on(steps.c.at), steps.c.kind.in_(NODE_KINDS), steps.c.prev_at.is_not(None))
    )


def refresh(first: date | None, last: date | None, zone: Any) -> dict[str, Any]:
    """Recompute the summary facts of the days [first, last] (None: unbounded) in the caller's transaction."""
    started = time.perf_counter()
    window = Window(first, last, zone)
    condition = []
    if first:
        condition.append(ReportDailyStat.day >= first)
    if last:
        condition.append(ReportDailyStat.day <= last)
    db.session.execute(delete(ReportDailyStat).where(*condition))
    columns = ["metric", "day", "dim", "dim2", "n", "total_seconds"]
    for statement in fact_selects(window):
        db.session.execute(insert(ReportDailyStat).from_select(columns, statement))
    # (psycopg reports no row count for INSERT … SELECT: count what the window now holds)
    rows = db.session.execute(select(func.count()).select_from(ReportDailyStat).where(*condition)).scalar_one()
    seconds = time.perf_counter() - started
    today = datetime.now(zone).date()
    db.session.add(ReportRefresh(from_day=first or date(1900, 1, 1), to_day=last or today, seconds=seconds, rows=rows))
    return {"rows": rows, "seconds": round(seconds, 3)}


def last_refresh() -> ReportRefresh | None:
    """The most recent refresh (for "figures as of")."""
    return db.session.execute(select(ReportRefresh).order_by(ReportRefresh.id.desc()).limit(1)).scalar_one_or_none()
