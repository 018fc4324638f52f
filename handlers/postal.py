"""Postal handler (A6, B1.16): a delivery order for a finished permit, and its waybill."""

from __future__ import annotations

from typing import Any

from handlers.registry import operator
from integrations.postal import DeliveryOrder, PostalClient


@operator("postal.push_order", clients=("postal",), max_attempts=5, backoff_seconds=2.0)
def push_order(*, postal: PostalClient, permit_no: str, recipient: dict) -> dict[str, Any]:
    """Order delivery of the permit (order_ref = permit number, so a retry gets the same waybill)."""
    order = DeliveryOrder(
        order_ref=f"POST-{permit_no}",
        permit_no=permit_no,
        recipient_name=recipient["name"],
        recipient_mobile=recipient["mobile"],
        province=recipient.get("province") or "上海市",
        city=recipient.get("city") or "上海市",
        district=recipient["district"],
        address_detail=recipient["address_detail"],
        postcode=recipient["postcode"],
    )
    waybill = postal.push_order(order)
    return {"waybill_no": waybill.waybill_no, "accepted_at": waybill.accepted_at, "duplicate": waybill.duplicate}
