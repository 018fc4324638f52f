"""Business queries C3.2 (data exchanged with other systems) and C3.3 (photo channels and their use)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, exists, func, select

from models import IntegrationCall, Permit, Person, Photo, ResidenceRegistration, db
from models.reports import ReportDailyStat
from processes.queries.base import Column, Filter, QuerySpec
from processes.queries.labels import (
    DIRECTIONS,
    PHOTO_SOURCES,
    PUSH_STATUS,
    SYSTEMS,
    _call_status,
    _period,
)

# --- C3.2 two-way trace of data exchanged with other systems ---------------------------------------------


def _person_keys(id_number: str) -> list[str]:
    """The business keys a person's records travel under: permit numbers (also as PA-…), registration numbers.

    Looked up first (a few index probes) so the trace itself is one index scan on business_key; an OR of
    sub-selects there makes PostgreSQL scan the whole call log.
    """
    person_ids = select(Person.id).where(Person.id_number == id_number)
    permits = db.session.execute(select(Permit.number).where(Permit.person_id.in_(person_ids))).scalars().all()
    registrations = (
        db.session.execute(select(ResidenceRegistration.number).where(ResidenceRegistration.person_id.in_(person_ids)))
        .scalars()
        .all()
    )
    return [*permits, *(f"PA-{n}" for n in permits), *registrations] or ["-"]


def _exchange(filters: dict[str, Any]) -> Select:
    conditions = _period(filters, "at", IntegrationCall.at) + _call_status(filters)
    for key in ("system", "direction"):
        if key in filters:
            conditions.append(getattr(IntegrationCall, key) == filters[key])
    if "business_key" in filters:
        conditions.append(IntegrationCall.business_key == filters["business_key"])
    if "id_number" in filters:
        conditions.append(IntegrationCall.business_key.in_(_person_keys(filters["id_number"])))
    return (
        select(
            IntegrationCall.at,
            IntegrationCall.system,
            IntegrationCall.direction,
            IntegrationCall.operation,
            IntegrationCall.business_key,
            IntegrationCall.status,
            IntegrationCall.attempts,
            IntegrationCall.request_sm3,
            IntegrationCall.response_sm3,
        )
        .where(*conditions)
        .order_by(IntegrationCall.at.desc(), IntegrationCall.id.desc())
    )


EXCHANGE = QuerySpec(
    name="exchange",
    title="数据交互双向追溯",
    group="C3.2",
    description="与人社、房屋、电子证照、民政、制卡、邮政等系统之间推送与拉取的每一次交互（仅存摘要）",
    filters=(
        Filter("id_number", "身份证号码", "id_number", max_length=18),
        Filter("business_key", "业务编号", max_length=120),
        Filter("system", "外部系统", "choice", tuple(SYSTEMS.items())),
        Filter("direction", "方向", "choice", DIRECTIONS),
        Filter("at", "交互时间", "date"),
        Filter("status", "结果", "choice", PUSH_STATUS),
    ),
    columns=(
        Column("at", "时间"),
        Column("system", "外部系统", labels=SYSTEMS),
        Column("direction", "方向", labels={"outbound": "推送/调用", "inbound": "拉取/回调"}),
        Column("operation", "接口"),
        Column("business_key", "业务编号"),
        Column("status", "结果", labels={"ok": "成功"}),
        Column("attempts", "尝试次数"),
        Column("request_sm3", "请求摘要(SM3)"),
        Column("response_sm3", "应答摘要(SM3)"),
    ),
    build=_exchange,
)


# --- C3.3 photo channels and their use ---------------------------------------------------------------------


def _used_by(kind: str) -> Any:
    if kind == "registration":
        return exists().where(ResidenceRegistration.photo_id == Photo.id)
    return exists().where(Permit.photo_id == Photo.id)


def _photos(filters: dict[str, Any]) -> Select:
    conditions = _period(filters, "taken", Photo.taken_at)
    if "source" in filters:
        conditions.append(Photo.source == filters["source"])
    if "review_status" in filters:
        conditions.append(Photo.review_status == filters["review_status"])
    use = filters.get("used_by")
    if use in ("registration", "permit"):
        conditions.append(_used_by(use))
    elif use == "unused":
        conditions.append(and_(~_used_by("registration"), ~_used_by("permit")))
    return (
        select(
            Photo.id,
            Photo.source,
            Photo.taken_at,
            Person.name,
            Person.id_number,
            Photo.review_status,
            _used_by("registration").label("for_registration"),
            _used_by("permit").label("for_permit"),
        )
        .join(Person, Person.id == Photo.person_id)
        .where(*conditions)
        .order_by(Photo.taken_at.desc(), Photo.id.desc())
    )


def _photo_summary(filters: dict[str, Any]) -> list[tuple[str, int]]:
    # Counts by channel and use come from the daily summary (a year of photos is ~365 × 8 summary rows).
    conditions = [ReportDailyStat.metric == "photo"]
    if filters.get("taken_from"):
        conditions.append(ReportDailyStat.day >= filters["taken_from"])
    if filters.get("taken_to"):
        conditions.append(ReportDailyStat.day <= filters["taken_to"])
    if filters.get("source"):
        conditions.append(ReportDailyStat.dim == filters["source"])
    rows = db.session.execute(
        select(ReportDailyStat.dim, ReportDailyStat.dim2, func.sum(ReportDailyStat.n))
        .where(*conditions)
        .group_by(ReportDailyStat.dim, ReportDailyStat.dim2)
        .order_by(ReportDailyStat.dim, ReportDailyStat.dim2)
    ).all()
    used = {"used": "已使用", "unused": "未使用"}
    return [(f"{PHOTO_SOURCES.get(s, s)}·{used.get(u, u)}", int(n)) for s, u, n in rows]


PHOTOS = QuerySpec(
    name="photos",
    title="照片渠道及使用情况",
    group="C3.3",
    description="按采集渠道、时间、业务用途批量查询照片及其被居住登记、居住证使用的情况",
    filters=(
        Filter("source", "照片渠道", "choice", tuple(PHOTO_SOURCES.items())),
        Filter("taken", "采集时间", "date"),
        Filter(
            "used_by",
            "业务用途",
            "choice",
            (("registration", "用于居住登记"), ("permit", "用于居住证"), ("unused", "未使用")),
        ),
        Filter("review_status", "审核结果", "choice", (("passed", "通过"), ("failed", "不通过"), ("pending", "待审"))),
    ),
    columns=(
        Column("photo_id", "照片编号"),
        Column("source", "渠道", labels=PHOTO_SOURCES),
        Column("taken_at", "采集时间"),
        Column("name", "姓名", personal="name"),
        Column("id_number", "身份证号码", personal="id_number"),
        Column("review_status", "审核结果", labels={"passed": "通过", "failed": "不通过", "pending": "待审"}),
        Column("for_registration", "用于居住登记"),
        Column("for_permit", "用于居住证"),
    ),
    build=_photos,
    summary=_photo_summary,
    default_days=("taken", 90),
)
