"""B1.16: push delivery data of a finished card to the postal service, track it, return the temporary card."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select

from integrations.postal import DeliveryOrder
from models import db
from models.domain import Permit
from processes.errors import Conflict, NotFound, ValidationFailed
from processes.mca.catalog import CallContext, interface
from processes.mca.services.common import WHO, find_person
from processes.unit_of_work import transaction

ADDRESS = ("recipientName", "recipientMobile", "province", "city", "district", "addressDetail", "postcode")


def _permit(number: str) -> Permit:
    permit = db.session.execute(select(Permit).where(Permit.number == number)).scalar_one_or_none()
    if permit is None:
        raise NotFound("MCA_PERMIT_NOT_FOUND", "居住证号不存在")
    return permit


@interface(
    "postal.upload", 16, "邮寄信息上传：制证完成后推送邮寄数据，返回运单号", ("permitNumber", *ADDRESS), writes=True
)
def postal_upload(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Push a delivery order for a made card and keep its waybill on the permit (a repeat gets the same one)."""
    permit = _permit(data["permitNumber"])
    if permit.card_status not in ("made", "delivered") and permit.status != "issued":
        raise Conflict(
            "MCA_CARD_NOT_READY", "居住证尚未制作完成，不能推送邮寄信息", {"card_status": permit.card_status}
        )
    order = DeliveryOrder(
        order_ref=f"MCA-{permit.number}",
        permit_no=permit.number,
        recipient_name=data["recipientName"],
        recipient_mobile=data["recipientMobile"],
        province=data["province"],
        city=data["city"],
        district=data["district"],
        address_detail=data["addressDetail"],
        postcode=data["postcode"],
    )
    db.session.rollback()  # no read transaction held open during the external call
    waybill = ctx.platform.clients["postal"].push_order(order, business_key=permit.number)
    with transaction():
        row = db.session.execute(select(Permit).where(Permit.number == order.permit_no)).scalar_one()
        row.waybill_no, row.pickup = waybill.waybill_no, "post"
    return {"permit_number": order.permit_no, **asdict(waybill)}


@interface("postal.trackQuery", 16, "邮寄跟踪：按居住证号或运单号查询投递轨迹", (), ("permitNumber", "waybillNo"))
def postal_track(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """The waybill's events (by waybill number, or the permit's waybill)."""
    waybill_no = data.get("waybillNo")
    if not waybill_no:
        if "permitNumber" not in data:
            raise ValidationFailed(
                "MCA_FIELD_REQUIRED",
                "居住证号与运单号至少提供一项",
                {"fields": {"permitNumber": "二选一", "waybillNo": "二选一"}},
            )
        waybill_no = _permit(data["permitNumber"]).waybill_no
        if not waybill_no:
            raise Conflict("MCA_NOT_POSTED", "该居住证尚未交邮")
    tracking = ctx.platform.clients["postal"].tracking(waybill_no, business_key=data.get("permitNumber"))
    return asdict(tracking)


@interface("tempCard.return", 16, "临时卡回收：正式证件发放后通知回收临时卡", (*WHO, "permitNumber"), writes=True)
def temp_card_return(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Once the formal card is issued, the temporary card must be returned: confirm and say where."""
    person = find_person(data)
    permit = _permit(data["permitNumber"])
    if permit.person_id != person.id:
        raise NotFound("MCA_PERMIT_NOT_FOUND", "居住证号不存在")
    if permit.status != "issued":
        raise Conflict("MCA_PERMIT_NOT_ISSUED", "正式居住证尚未发放，暂不回收临时卡", {"status": permit.status})
    return {
        "permit_number": permit.number,
        "return_required": True,
        "instruction": "正式居住证已发放，请持证人将临时卡交回受理网点或随邮件退回",
    }
