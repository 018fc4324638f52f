"""The business queries (C3.1–C3.3), each a QuerySpec over indexed columns.

Every query orders by an indexed timestamp (newest first) so that a page is an index range scan that stops
after `per_page` rows, at 1,000,000 permits as at 100.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import aliased

from models import IntegrationCall, Permit, Person, Photo, ResidenceRegistration, SmsBlock, db
from models.reports import ReportDailyStat
from processes.queries.base import Column, Filter, QuerySpec
from processes.reports.figures import DEATH_LIST_SOURCES
from processes.reports.summary import Window

CHANNEL_LABELS = {
    "counter": "窗口",
    "channel_line": "渠道专线",
    "mca3": "民政3.0一口受理",
    "mca": "民政3.0一口受理",  # older rows
    "suishenban": "随申办移动端",
    "terminal": "自助终端",
}
PHOTO_SOURCES = {"counter": "窗口采集", "channel": "渠道上传", "social_security": "社保卡照片", "retake": "重拍"}
PUSH_STATUS = (("ok", "成功"), ("failed", "失败"))
SYSTEMS = {
    "elicence": "电子证照库",
    "housing": "房屋数据",
    "hrss": "人社",
    "photo": "照片服务",
    "card_factory": "制卡厂",
    "postal": "邮政",
    "population": "人口办",
    "mca3": "民政3.0",
    "sms": "短信平台",
}
DIRECTIONS = (("outbound", "推送/调用（本系统→外部）"), ("inbound", "拉取/回调（外部→本系统）"))
PERMIT_STATUS = {
    "applying": "申请中",
    "approved": "已批准",
    "producing": "制证中",
    "issued": "已发证",
    "lost": "已挂失",
    "cancelled": "已注销",
    "voided": "已作废",
}
REG_STATUS = {"active": "有效", "deregistered": "已注销", "rejected": "未通过", "superseded": "已变更"}
HOUSE_STATUS = {"ok": "核验完成"}


def _zone() -> Any:
    from processes.platform import get_platform

    return get_platform().settings.zone


def _period(filters: dict[str, Any], key: str, column: Any) -> list[Any]:
    first, last = filters.get(key + "_from"), filters.get(key + "_to")
    if not first and not last:
        return []
    return [Window(first, last, _zone()).on(column)]


def _call_status(filters: dict[str, Any]) -> list[Any]:
    status = filters.get("status")
    if status == "ok":
        return [IntegrationCall.status == "ok"]
    if status == "failed":
        return [IntegrationCall.status != "ok"]
    return []


# --- C3.1 e-licence generation and push status ------------------------------------------------------------


def _elicence(filters: dict[str, Any]) -> Select:
    conditions = [IntegrationCall.system == "elicence", IntegrationCall.operation == "push_permit"]
    conditions += _period(filters, "pushed", IntegrationCall.at) + _call_status(filters)
    if "permit_no" in filters:
        conditions.append(IntegrationCall.business_key == filters["permit_no"])
    if "id_number" in filters:
        numbers = (
            select(Permit.number)
            .join(Person, Person.id == Permit.person_id)
            .where(Person.id_number == filters["id_number"])
        )
        conditions.append(IntegrationCall.business_key.in_(numbers))
    if "channel" in filters:
        conditions.append(ResidenceRegistration.channel == filters["channel"])
    return (
        select(
            Permit.number,
            Person.name,
            Person.id_number,
            IntegrationCall.at,
            IntegrationCall.status,
            IntegrationCall.http_status,
            IntegrationCall.attempts,
            ResidenceRegistration.channel,
            Permit.valid_until,
        )
        .select_from(IntegrationCall)
        .join(Permit, Permit.number == IntegrationCall.business_key)
        .join(Person, Person.id == Permit.person_id)
        .join(ResidenceRegistration, ResidenceRegistration.id == Permit.registration_id)
        .where(*conditions)
        .order_by(IntegrationCall.at.desc(), IntegrationCall.id.desc())
    )


ELICENCE = QuerySpec(
    name="elicence",
    title="电子居住证生成与推送状态",
    group="C3.1",
    description="按人员、居住证号、推送时间、申请渠道查询电子居住证推送记录与结果",
    filters=(
        Filter("id_number", "身份证号码", "id_number", max_length=18),
        Filter("permit_no", "居住证号"),
        Filter("pushed", "推送时间", "date"),
        Filter("status", "推送结果", "choice", PUSH_STATUS),
        Filter("channel", "申请渠道", "choice", tuple((k, v) for k, v in CHANNEL_LABELS.items() if k != "mca")),
    ),
    columns=(
        Column("permit_no", "居住证号"),
        Column("name", "姓名", personal="name"),
        Column("id_number", "身份证号码", personal="id_number"),
        Column("pushed_at", "推送时间"),
        Column("status", "推送结果", labels={"ok": "成功"}),
        Column("http_status", "HTTP状态"),
        Column("attempts", "尝试次数"),
        Column("channel", "申请渠道", labels=CHANNEL_LABELS),
        Column("valid_until", "有效期至"),
    ),
    build=_elicence,
)


# --- C3.1 house legality and stability checks ------------------------------------------------------------


def _housing(filters: dict[str, Any]) -> Select:
    conditions = [IntegrationCall.system == "housing"]
    conditions += _period(filters, "checked", IntegrationCall.at) + _call_status(filters)
    if "business_key" in filters:
        conditions.append(IntegrationCall.business_key == filters["business_key"])
    return (
        select(
            IntegrationCall.business_key,
            IntegrationCall.operation,
            IntegrationCall.at,
            IntegrationCall.status,
            IntegrationCall.http_status,
            IntegrationCall.latency_ms,
        )
        .where(*conditions)
        .order_by(IntegrationCall.at.desc(), IntegrationCall.id.desc())
    )


HOUSING = QuerySpec(
    name="housing",
    title="房屋合法性与稳定性核验",
    group="C3.1",
    description="居住登记与居住证申领时对房屋数据的核验记录（合法、稳定性评级）",
    filters=(
        Filter("business_key", "业务编号", max_length=120),
        Filter("checked", "核验时间", "date"),
        Filter("status", "核验结果", "choice", PUSH_STATUS),
    ),
    columns=(
        Column("business_key", "业务编号"),
        Column("operation", "核验项目", labels={"house": "房屋合法性与稳定性", "fuzzy": "地址模糊查询"}),
        Column("at", "核验时间"),
        Column("status", "结果", labels=HOUSE_STATUS),
        Column("http_status", "HTTP状态"),
        Column("latency_ms", "耗时(毫秒)"),
    ),
    build=_housing,
)


# --- C3.1 death-list search linked to registrations and permits ------------------------------------------


def _deaths(filters: dict[str, Any]) -> Select:
    conditions = [SmsBlock.source.in_(DEATH_LIST_SOURCES), *_period(filters, "imported", SmsBlock.created_at)]
    if "id_number" in filters:
        conditions.append(SmsBlock.id_number == filters["id_number"])
    if "batch_ref" in filters:
        conditions.append(SmsBlock.batch_ref == filters["batch_ref"])
    # The person's latest registration and permit (aliases: the outer query joins the same tables).
    reg, permit = aliased(ResidenceRegistration), aliased(Permit)
    latest_reg = select(func.max(reg.id)).where(reg.person_id == Person.id).correlate(Person).scalar_subquery()
    latest_permit = select(func.max(permit.id)).where(permit.person_id == Person.id).correlate(Person).scalar_subquery()
    return (
        select(
            SmsBlock.batch_ref,
            SmsBlock.created_at,
            Person.name,
            SmsBlock.id_number,
            ResidenceRegistration.number,
            ResidenceRegistration.status,
            Permit.number,
            Permit.status,
            Permit.valid_until,
        )
        .select_from(SmsBlock)
        .outerjoin(Person, Person.id_number_bidx == SmsBlock.id_digest)
        .outerjoin(ResidenceRegistration, ResidenceRegistration.id == latest_reg)
        .outerjoin(Permit, Permit.id == latest_permit)
        .where(*conditions)
        .order_by(SmsBlock.created_at.desc(), SmsBlock.id.desc())
    )


DEATHS = QuerySpec(
    name="deaths",
    title="死亡名单检索",
    group="C3.1",
    description="死亡名单（短信禁发表）中的人员及其居住登记、居住证现状",
    filters=(
        Filter("id_number", "身份证号码", "id_number", max_length=18),
        Filter("batch_ref", "导入批次"),
        Filter("imported", "导入时间", "date"),
    ),
    columns=(
        Column("batch_ref", "导入批次"),
        Column("imported_at", "导入时间"),
        Column("name", "姓名", personal="name"),
        Column("id_number", "身份证号码", personal="id_number"),
        Column("registration_no", "居住登记号"),
        Column("registration_status", "登记状态", labels=REG_STATUS),
        Column("permit_no", "居住证号"),
        Column("permit_status", "居住证状态", labels=PERMIT_STATUS),
        Column("valid_until", "有效期至"),
    ),
    build=_deaths,
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

QUERIES: dict[str, QuerySpec] = {q.name: q for q in (ELICENCE, HOUSING, DEATHS, EXCHANGE, PHOTOS)}
