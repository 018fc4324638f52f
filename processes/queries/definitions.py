"""The business queries (C3.1–C3.3), each a QuerySpec over indexed columns.

Every query orders by an indexed timestamp (newest first) so that a page is an index range scan that stops
after `per_page` rows, at 1,000,000 permits as at 100.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from models import IntegrationCall, Permit, Person, ResidenceRegistration, SmsBlock
from processes.queries.base import Column, Filter, QuerySpec
from processes.queries.labels import (
    CHANNEL_LABELS,
    HOUSE_STATUS,
    PERMIT_STATUS,
    PUSH_STATUS,
    REG_STATUS,
    _call_status,
    _period,
)
from processes.queries.records import EXCHANGE, PHOTOS
from processes.reports.figures import DEATH_LIST_SOURCES

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


QUERIES: dict[str, QuerySpec] = {q.name: q for q in (ELICENCE, HOUSING, DEATHS, EXCHANGE, PHOTOS)}
