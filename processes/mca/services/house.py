"""B1.1-2: house queries (exact, fuzzy), occupants, and the common instance-progress query."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select

from integrations.idnumber import mask
from models import db
from models.mca import McaSubmission
from processes import instances
from processes.errors import NotFound, ValidationFailed
from processes.mca.catalog import CallContext, interface


@interface("common.instanceQuery", 0, "受理进度查询：按受理接口返回的实例编号查询状态、待办与结果", ("instanceId",))
def instance_query(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Status, applicant tasks and public result of an instance this app submitted (apps sharing a channel
    do not see each other's)."""
    mine = db.session.execute(
        select(McaSubmission.id).where(
            McaSubmission.instance_id == data["instanceId"], McaSubmission.app_id == ctx.app_id
        )
    ).first()
    if mine is None:
        raise NotFound("INSTANCE_NOT_FOUND", "流程实例不存在", {"instance_id": data["instanceId"]})
    instance = instances.find_instance(data["instanceId"], ctx.actor)
    return {"instance": instances.describe(ctx.platform, instance, ctx.actor)}


@interface(
    "house.exactQuery",
    1,
    "房屋精确查询：按地址全码或房屋唯一编号查询产权状态、居住人数",
    (),
    ("addressCode", "houseId"),
)
def house_exact(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """One house by full address code or unique id (exactly one of them)."""
    if ("addressCode" in data) == ("houseId" in data):
        raise ValidationFailed(
            "MCA_FIELD_REQUIRED", "地址全码与房屋唯一编号须且只须提供一项", {"fields": {"addressCode": "二选一"}}
        )
    house = ctx.platform.clients["housing"].house(
        address_code=data.get("addressCode"), house_id=data.get("houseId"), business_key=ctx.request_id
    )
    return {"house": asdict(house)}


@interface("house.fuzzyQuery", 1, "房屋模糊查询：按部分地址返回候选房屋列表", ("partialAddress",), ("limit",))
def house_fuzzy(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Candidate houses for a partial address."""
    found = ctx.platform.clients["housing"].search(
        data["partialAddress"], limit=data.get("limit", 10), business_key=ctx.request_id
    )
    return {"candidates": [asdict(c) for c in found.candidates], "total": found.total, "truncated": found.truncated}


@interface("house.occupantQuery", 2, "房屋居住人员查询（身份证号码脱敏）", ("houseId",))
def house_occupants(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """The persons registered in a house, ID numbers masked."""
    occupants = ctx.platform.clients["housing"].occupants(data["houseId"], business_key=ctx.request_id)
    return {
        "house_id": data["houseId"],
        "occupants": [{**asdict(o), "id_number": mask(o.id_number)} for o in occupants],
    }
