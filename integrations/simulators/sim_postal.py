"""Postal-service (邮政) simulator: delivery orders for finished permits and their tracking events."""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timedelta
from typing import Any

from integrations.simulators import common
from integrations.simulators.app import _guarded
from integrations.simulators.common import Invalid

blueprint = common.blueprint("sim_postal", "/postal")

POSTCODE = re.compile(r"^\d{6}$")
# Stage k of a waybill shows the first k+1 steps; stage 3 ends with a return instead of a delivery.
STEPS = (
    ("accepted", "上海市邮政速递物流分公司", "邮件已揽收"),
    ("in_transit", "上海邮区中心局", "邮件运输中，已到达上海邮区中心局"),
    ("delivered", "{district}投递部", "邮件已妥投，签收人：本人"),
)
RETURNED = ("returned", "{district}投递部", "收件人地址不详，邮件已退回寄件单位")


def tracking_stage(order_ref: str) -> int:
    """0 accepted, 1 in transit, 2 delivered, 3 returned: fixed for an order reference."""
    return zlib.crc32(order_ref.encode("utf-8")) % 4


@blueprint.post("/v1/orders")
def push_order() -> Any:
    """Accept a delivery order; the same order_ref again returns the first waybill."""
    body = common.json_body()
    order_ref = common.text(body, "order_ref", max_len=40)
    for name in ("permit_no", "recipient_name", "province", "city", "district"):
        common.text(body, name, max_len=50)
    common.text(body, "address_detail", max_len=200)
    common.mobile(body, "recipient_mobile")
    if not POSTCODE.match(str(body.get("postcode", ""))):
        raise Invalid("INVALID_POSTCODE", "postcode must be 6 digits", 400)

    def create(waybill_no: str) -> dict[str, Any]:
        return {"id": waybill_no, "order_ref": order_ref, "district": body["district"], "accepted_at": common.now()}

    record, duplicate = common.store("postal.orders", "EMS1").remember(order_ref, body, create)
    return _guarded(
        "postal.order",
        {
            "waybill_no": record["id"],
            "order_ref": order_ref,
            "accepted_at": record["accepted_at"],
            "duplicate": duplicate,
        },
    )


@blueprint.get("/v1/waybills/<waybill_no>/events")
def tracking(waybill_no: str) -> Any:
    """The tracking events of a waybill, oldest first, and its current status."""
    record = common.store("postal.orders", "EMS1").get(waybill_no)
    stage = tracking_stage(record["order_ref"])
    steps = STEPS[: stage + 1] if stage < 3 else (*STEPS[:2], RETURNED)
    start = datetime.fromisoformat(record["accepted_at"])
    events = [
        {
            "at": (start + timedelta(hours=6 * n)).isoformat(),
            "status": status,
            "location": location.format(district=record["district"]),
            "description": description,
        }
        for n, (status, location, description) in enumerate(steps)
    ]
    return _guarded("postal.tracking", {"waybill_no": waybill_no, "status": events[-1]["status"], "events": events})
