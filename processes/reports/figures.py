"""The statistics (C4.1–C4.5): each report is a dict of titled tables (and charts) for a period.

Period reports add up the daily summary (processes.reports.summary); the live counts (valid/expired permits
and registrations) and the death-list comparison read the business tables through indexes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from models import Permit, Person, ResidenceRegistration, SmsBlock, db
from models.reports import ReportDailyStat
from processes.errors import ValidationFailed

PROCESS_NAMES_FALLBACK = {
    "permit_application": "居住证申领",
    "residence_registration": "居住登记",
    "auto_endorsement": "签注",
    "registration_deregistration": "登记注销",
    "permit_reissue": "补领换领",
    "card_production": "批量制证",
}
DEREGISTRATION_REASONS = {
    "request": "本人申请",
    "deceased": "死亡",
    "moved_away": "迁离",
    "superseded": "重新登记",
    "expired": "到期",
}
ENDORSEMENT_KINDS = {"auto": "自动签注", "counter": "窗口签注", "reissue": "补领签注"}
MAX_PERIOD_DAYS = 3660
# Block-list sources that are death lists: the population office's feed and the Excel import (C1.3).
DEATH_LIST_SOURCES = ("death_list", "death_list_import")


@dataclass
class Period:
    """A report period: inclusive business dates and the grouping (day or month)."""

    start: date
    end: date
    group: str = "month"

    def key(self, day: date) -> str:
        """The group a day falls in ("2026-03" or "2026-03-05")."""
        return day.strftime("%Y-%m") if self.group == "month" else day.isoformat()

    def groups(self) -> list[str]:
        """Every group of the period, in order (so empty months show as zero)."""
        out, day = [], self.start
        while day <= self.end:
            k = self.key(day)
            if not out or out[-1] != k:
                out.append(k)
            day += timedelta(days=1)
        return out

    def as_dict(self) -> dict[str, str]:
        """The period as form values."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "group": self.group}


def parse_period(args: Any, today: date) -> Period:
    """From/to dates and grouping from request arguments; default: the last 12 whole months plus this one."""
    default_start = date(today.year - 1, today.month, 1)
    try:
        start = date.fromisoformat(args.get("start")) if args.get("start") else default_start
        end = date.fromisoformat(args.get("end")) if args.get("end") else today
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("PERIOD_INVALID", "统计期间的日期格式不正确（应为 YYYY-MM-DD）") from exc
    group = args.get("group") or "month"
    if group not in ("month", "day"):
        raise ValidationFailed("GROUP_INVALID", "统计口径只能按月或按日")
    if end < start:
        raise ValidationFailed("PERIOD_INVALID", "统计期间的结束日期早于开始日期")
    if (end - start).days > MAX_PERIOD_DAYS or (group == "day" and (end - start).days > 366):
        raise ValidationFailed("PERIOD_TOO_LONG", "统计期间过长：按日统计最长一年，按月统计最长十年")
    return Period(start, end, group)


@dataclass
class Table:
    """One titled table of a report (rendered as HTML, printed, exported as one Excel sheet)."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    total: list[Any] | None = None


def _facts(metric: str, period: Period) -> list[tuple[date, str, str, int, float]]:
    rows = db.session.execute(
        select(
            ReportDailyStat.day,
            ReportDailyStat.dim,
            ReportDailyStat.dim2,
            func.sum(ReportDailyStat.n),
            func.sum(ReportDailyStat.total_seconds),
        )
        .where(ReportDailyStat.metric == metric, ReportDailyStat.day.between(period.start, period.end))
        .group_by(ReportDailyStat.day, ReportDailyStat.dim, ReportDailyStat.dim2)
    ).all()
    return [(r[0], r[1], r[2], int(r[3] or 0), float(r[4] or 0.0)) for r in rows]


def _by_group(metric: str, period: Period, pick: Any = lambda dim, dim2: dim) -> dict[str, dict[str, list[float]]]:
    """{group: {column: [n, seconds]}} for a metric, the column chosen from (dim, dim2)."""
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))
    for day, dim, dim2, n, secs in _facts(metric, period):
        cell = out[period.key(day)][pick(dim, dim2)]
        cell[0] += n
        cell[1] += secs
    return out


def _days(seconds: float, n: int) -> float | None:
    return round(seconds / n / 86400, 2) if n else None


def production_cycle(period: Period) -> dict[str, Any]:
    """C4.1: average days from application to card, per month; average time per process node."""
    cycle = _by_group("card_cycle", period)
    months = Table("制证周期（申请至发证）", ["期间", "发证数", "平均天数", "其中加急", "加急平均天数"])
    n_all = s_all = 0.0
    for key in period.groups():
        normal, express = cycle.get(key, {}).get("normal", [0, 0.0]), cycle.get(key, {}).get("express", [0, 0.0])
        n, secs = normal[0] + express[0], normal[1] + express[1]
        n_all, s_all = n_all + n, s_all + secs
        months.rows.append([key, int(n), _days(secs, n), int(express[0]), _days(express[1], express[0])])
    months.total = ["合计", int(n_all), _days(s_all, int(n_all)), None, None]
    nodes: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for _day, dim, _spec, n, secs in _facts("node_time", period):
        process_key, _, name = dim.partition("|")
        cell = nodes[(process_key, name)]
        cell[0] += n
        cell[1] += secs
    node_table = Table("各环节平均处理时长", ["业务", "环节", "次数", "平均小时"])
    for (process_key, name), (n, secs) in sorted(
        nodes.items(), key=lambda kv: (kv[0][0], -kv[1][1] / max(kv[1][0], 1))
    ):
        node_table.rows.append(
            [
                PROCESS_NAMES_FALLBACK.get(process_key, process_key),
                name,
                int(n),
                round(secs / n / 3600, 2) if n else None,
            ]
        )
    return {
        "title": "制证周期统计",
        "tables": [months, node_table],
        "summary": {"issued": int(n_all), "avg_days": _days(s_all, int(n_all))},
        "chart_nodes": [(r[1], r[3] or 0) for r in node_table.rows if r[0] == "居住证申领"][:12],
        "chart_months": [(r[0], r[2] or 0) for r in months.rows],
        "chart_title": "平均制证天数（申请至发证）",
    }


def production_counts(period: Period) -> dict[str, Any]:
    """C4.1: cards exported to the factory and results imported (made / failed) per period."""
    exported = _by_group("production_exported", period)
    imported = _by_group("production_imported", period)
    table = Table("制证数据导出导入数量", ["期间", "导出数", "其中加急", "导入成功", "导入失败"])
    totals = [0, 0, 0, 0]
    for key in period.groups():
        e = exported.get(key, {})
        i = imported.get(key, {})
        row = [
            int(e.get("normal", [0])[0] + e.get("express", [0])[0]),
            int(e.get("express", [0])[0]),
            int(i.get("made", [0])[0]),
            int(i.get("failed", [0])[0]),
        ]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        table.rows.append([key, *row])
    table.total = ["合计", *totals]
    return {
        "title": "制证导出导入统计",
        "tables": [table],
        "chart_months": [(r[0], r[1]) for r in table.rows],
        "chart_title": "导出制证数量",
    }


def deregistrations_endorsements(period: Period) -> dict[str, Any]:
    """C4.3: deregistrations by reason and endorsements by kind, per period."""
    dereg = _by_group("deregistration", period)
    endorse = _by_group("endorsement", period)
    reasons = list(DEREGISTRATION_REASONS)
    kinds = list(ENDORSEMENT_KINDS)
    t1 = Table("居住登记注销", ["期间", *[DEREGISTRATION_REASONS[r] for r in reasons], "合计"])
    t2 = Table("居住证签注", ["期间", *[ENDORSEMENT_KINDS[k] for k in kinds], "合计"])
    sum1 = [0] * (len(reasons) + 1)
    sum2 = [0] * (len(kinds) + 1)
    for key in period.groups():
        row1 = [int(dereg.get(key, {}).get(r, [0])[0]) for r in reasons]
        row1.append(sum(int(v[0]) for v in dereg.get(key, {}).values()))
        row2 = [int(endorse.get(key, {}).get(k, [0])[0]) for k in kinds]
        row2.append(sum(int(v[0]) for v in endorse.get(key, {}).values()))
        sum1 = [a + b for a, b in zip(sum1, row1, strict=True)]
        sum2 = [a + b for a, b in zip(sum2, row2, strict=True)]
        t1.rows.append([key, *row1])
        t2.rows.append([key, *row2])
    t1.total, t2.total = ["合计", *sum1], ["合计", *sum2]
    return {
        "title": "注销与签注统计",
        "tables": [t1, t2],
        "chart_months": [(r[0], r[-1]) for r in t2.rows],
        "chart_title": "签注数量",
    }


def validity(today: date) -> dict[str, Any]:
    """C4.4 (live): permits and registrations in force vs expired, counted now through the validity indexes."""

    def counts(model: Any, status: str) -> tuple[int, int]:
        # Two filtered counts in one pass over the (status, valid_until) index.
        valid, expired = db.session.execute(
            select(
                func.count().filter(model.valid_until >= today),
                func.count().filter(model.valid_until < today),
            ).where(model.status == status, model.valid_until.is_not(None))
        ).one()
        return int(valid), int(expired)

    permits = counts(Permit, "issued")
    registrations = counts(ResidenceRegistration, "active")
    table = Table(f"有效与过期（截至 {today.isoformat()} 实时）", ["类别", "有效", "已过期", "合计"])
    for label, pair in (("居住证", permits), ("居住登记", registrations)):
        valid, expired = pair
        table.rows.append([label, valid, expired, valid + expired])
    return {"title": "有效与过期统计", "tables": [table]}


def business_volume(period: Period, names: dict[str, str] | None = None) -> dict[str, Any]:
    """C4.4: business started per process (type) and per channel, per period."""
    names = {**PROCESS_NAMES_FALLBACK, **(names or {})}
    facts = _facts("business", period)
    keys = sorted({dim for _d, dim, _c, _n, _s in facts})
    channels = sorted({dim2 for _d, _k, dim2, _n, _s in facts})
    by_type = Table("业务量（按业务类型）", ["期间", *[names.get(k, k) for k in keys], "合计"])
    by_channel = Table("业务量（按渠道）", ["期间", *channels, "合计"])
    grid: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    grid_c: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, key, channel, n, _s in facts:
        grid[period.key(day)][key] += n
        grid_c[period.key(day)][channel] += n
    for key in period.groups():
        row = [grid[key].get(k, 0) for k in keys]
        by_type.rows.append([key, *row, sum(row)])
        row_c = [grid_c[key].get(c, 0) for c in channels]
        by_channel.rows.append([key, *row_c, sum(row_c)])
    by_type.total = ["合计", *[sum(r[i] for r in by_type.rows) for i in range(1, len(keys) + 2)]]
    by_channel.total = ["合计", *[sum(r[i] for r in by_channel.rows) for i in range(1, len(channels) + 2)]]
    return {
        "title": "业务量统计",
        "tables": [by_type, by_channel],
        "chart_months": [(r[0], r[-1]) for r in by_type.rows],
        "chart_title": "业务总量",
    }


def death_list_batches(today: date, limit: int = 100) -> dict[str, Any]:
    """C4.5: per death-list batch, how many were matched to persons, registrations still active, permits valid."""
    matched = func.count(func.distinct(Person.id))
    active_reg = func.count(func.distinct(ResidenceRegistration.id))
    valid_permit = func.count(func.distinct(Permit.id))
    rows = db.session.execute(
        select(
            SmsBlock.batch_ref,
            func.min(SmsBlock.created_at),
            func.count(func.distinct(SmsBlock.id)),
            matched,
            active_reg,
            valid_permit,
        )
        .select_from(SmsBlock)
        .outerjoin(Person, Person.id_number_bidx == SmsBlock.id_digest)
        .outerjoin(
            ResidenceRegistration,
            and_(ResidenceRegistration.person_id == Person.id, ResidenceRegistration.status == "active"),
        )
        .outerjoin(Permit, and_(Permit.person_id == Person.id, Permit.status == "issued", Permit.valid_until >= today))
        .where(SmsBlock.source.in_(DEATH_LIST_SOURCES), SmsBlock.batch_ref.is_not(None))
        .group_by(SmsBlock.batch_ref)
        .order_by(func.min(SmsBlock.created_at).desc())
        .limit(limit)
    ).all()
    table = Table(
        "死亡名单比对（按批次）", ["批次", "导入时间", "名单人数", "匹配到本市人员", "仍有效居住登记", "仍有效居住证"]
    )
    for ref, at, listed, found, regs, permits in rows:
        table.rows.append([ref, at, int(listed), int(found), int(regs), int(permits)])
    if table.rows:
        table.total = ["合计", None, *[sum(r[i] for r in table.rows) for i in range(2, 6)]]
    return {"title": "死亡名单比对", "tables": [table]}


def stamp(value: datetime | None) -> str:
    """A timestamp for a table cell."""
    return value.strftime("%Y-%m-%d %H:%M") if value else ""
