"""The query framework (C3.4): filters, permission-graded columns, capped counts, pages and export rows.

A query is a QuerySpec: its filters, its columns and a function building the SELECT from parsed filters.
Columns marked `personal` (ID numbers, names, mobiles) are masked unless the viewer holds `person.unmask`
AND asked to unmask; every unmasked page or export is written to the audit log (processes.audit.log).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select

from integrations.idnumber import mask
from models import db
from processes.errors import ValidationFailed

COUNT_CAP = 10_000  # beyond this the page says "10000+" instead of counting millions of rows every time
PER_PAGE_CHOICES = (20, 50, 100)
EXPORT_BATCH = 2000


@dataclass(frozen=True)
class Filter:
    """One filter field: text (exact), id_number (blind index), date (from/to bound) or choice."""

    key: str
    label: str
    kind: str = "text"  # text | id_number | date | choice
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int = 64


@dataclass(frozen=True)
class Column:
    """One result column; `personal` ones are masked unless unmasked (id_number | name | mobile)."""

    key: str
    label: str
    personal: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)  # code → Chinese label


@dataclass(frozen=True)
class QuerySpec:
    """A business query: what it is, its filters, its columns and how to build its SELECT."""

    name: str
    title: str
    group: str  # requirement id, e.g. "C3.1"
    description: str
    filters: tuple[Filter, ...]
    columns: tuple[Column, ...]
    build: Callable[[dict[str, Any]], Select]
    summary: Callable[[dict[str, Any]], list[tuple[str, int]]] | None = None
    default_days: tuple[str, int] | None = None  # (date filter, days back) applied when that filter is empty

    def personal(self) -> bool:
        """Whether any column holds personal data."""
        return any(c.personal for c in self.columns)


@dataclass
class QueryPage:
    """One page of results, already masked (or not) for the viewer."""

    spec: QuerySpec
    items: list[list[Any]]
    total: int
    capped: bool
    page: int
    per_page: int
    unmasked: bool
    summary: list[tuple[str, int]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        """Number of pages (of the capped total)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def total_label(self) -> str:
        """The total for display ("10000+" when capped)."""
        return f"{self.total}+" if self.capped else str(self.total)


def parse_filters(spec: QuerySpec, args: Mapping[str, Any]) -> dict[str, Any]:
    """Validated filter values from request arguments (unknown keys ignored, empty ones dropped)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in spec.filters:
        keys = (f.key + "_from", f.key + "_to") if f.kind == "date" else (f.key,)
        for key in keys:
            raw = (args.get(key) or "").strip()
            if not raw:
                continue
            if len(raw) > f.max_length:
                errors[key] = f"{f.label}过长"
            elif f.kind == "date":
                try:
                    values[key] = date.fromisoformat(raw)
                except ValueError:
                    errors[key] = f"{f.label}日期格式应为 YYYY-MM-DD"
            elif f.kind == "choice" and raw not in dict(f.choices):
                errors[key] = f"{f.label}取值无效"
            elif f.kind == "id_number" and (len(raw) != 18 or not raw[:17].isdigit()):
                errors[key] = "身份证号码应为18位"
            else:
                values[key] = raw.upper() if f.kind == "id_number" else raw
    if spec.default_days and not any(k.startswith(spec.default_days[0] + "_") for k in values):
        # A batch query over every photo ever taken is never what is meant: start with the recent ones.
        today = datetime.now(_zone()).date()
        values[spec.default_days[0] + "_from"] = today - timedelta(days=spec.default_days[1])
    if errors:
        raise ValidationFailed("QUERY_FILTER_INVALID", "查询条件有误：" + "；".join(errors.values()), errors)
    return values


def parse_page(args: Mapping[str, Any]) -> tuple[int, int]:
    """Page number and size from request arguments (bad values fall back to the first page of 20)."""
    try:
        page = max(1, min(int(args.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    try:
        per_page = int(args.get("per_page") or PER_PAGE_CHOICES[0])
    except ValueError:
        per_page = PER_PAGE_CHOICES[0]
    return page, per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]


def display(column: Column, value: Any, unmask: bool) -> Any:
    """A cell as shown: code labels translated, personal data masked unless unmasked."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.astimezone(_zone()).strftime("%Y-%m-%d %H:%M")
    if column.labels and isinstance(value, str):
        value = column.labels.get(value, value)
    if column.personal and not unmask and isinstance(value, str) and value:
        if column.personal == "id_number":
            return mask(value)
        if column.personal == "name":
            return value[0] + "*" * (len(value) - 1)
        if column.personal == "mobile":
            return value[:3] + "****" + value[-4:] if len(value) >= 7 else "****"
    return value


def _zone() -> Any:
    from processes.platform import get_platform

    return get_platform().settings.zone


def _count(statement: Select) -> tuple[int, bool]:
    # Count at most COUNT_CAP + 1 rows: an index range scan that stops early, never a full count.
    capped = statement.order_by(None).limit(COUNT_CAP + 1).subquery()
    n = db.session.execute(select(func.count()).select_from(capped)).scalar_one()
    return min(n, COUNT_CAP), n > COUNT_CAP


UNMASK_PERMISSION = "person.unmask"


def may_unmask(spec: QuerySpec, permissions: Iterable[str]) -> bool:
    """True when the viewer's permissions allow full personal data of this query (and it has any)."""
    return UNMASK_PERMISSION in frozenset(permissions) and spec.personal()


def run_query(
    spec: QuerySpec,
    filters: dict[str, Any],
    page: int,
    per_page: int,
    *,
    unmask: bool = False,
    permissions: Iterable[str] = (),
) -> QueryPage:
    """One page of a query: unmasked only when asked for AND the viewer's permissions allow (then audited)."""
    statement = spec.build(filters)
    total, capped = _count(statement)
    rows = db.session.execute(statement.limit(per_page).offset((page - 1) * per_page)).all()
    unmask = unmask and may_unmask(spec, permissions)  # the service decides, whatever the caller asked
    items = [[display(c, row[i], unmask) for i, c in enumerate(spec.columns)] for row in rows]
    if unmask and items:
        _audit().log(
            "query.unmask",
            object_type="query",
            object_id=spec.name,
            details={"filters": _jsonable(filters), "page": page, "rows": len(items)},
        )
    summary = spec.summary(filters) if spec.summary else []
    return QueryPage(spec, items, total, capped, page, per_page, unmask, summary)


def export_rows(spec: QuerySpec, filters: dict[str, Any], unmask: bool, limit: int) -> Iterator[list[Any]]:
    """Every row of a query, streamed from a server-side cursor in batches (never all in memory)."""
    statement = spec.build(filters).limit(limit).execution_options(yield_per=EXPORT_BATCH)
    unmask = unmask and spec.personal()
    for row in db.session.execute(statement):
        yield [display(c, row[i], unmask) for i, c in enumerate(spec.columns)]


def count_rows(spec: QuerySpec, filters: dict[str, Any], limit: int) -> int:
    """How many rows an export will write (at most limit)."""
    capped = spec.build(filters).order_by(None).limit(limit).subquery()
    return db.session.execute(select(func.count()).select_from(capped)).scalar_one()


def _jsonable(filters: dict[str, Any]) -> dict[str, Any]:
    # ID numbers in filters are personal data too: the audit keeps them masked.
    out = {}
    for key, value in filters.items():
        if isinstance(value, date | datetime):
            out[key] = value.isoformat()
        elif key == "id_number":
            out[key] = mask(value)
        else:
            out[key] = value
    return out


def describe_filters(spec: QuerySpec, filters: dict[str, Any]) -> list[str]:
    """The filters as readable lines (export header, print view)."""
    lines = []
    for f in spec.filters:
        if f.kind == "date":
            start, end = filters.get(f.key + "_from"), filters.get(f.key + "_to")
            if start or end:
                lines.append(f"{f.label}：{start or '…'} 至 {end or '…'}")
        elif f.key in filters:
            value = filters[f.key]
            shown = mask(value) if f.kind == "id_number" else dict(f.choices).get(value, value)
            lines.append(f"{f.label}：{shown}")
    return lines


def _audit():  # imported late: processes.audit imports the platform module, which imports this package
    from processes import audit

    return audit
