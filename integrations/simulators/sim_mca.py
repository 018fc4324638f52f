"""Civil-affairs platform 3.0 (民政 3.0) simulator: the notifications our system sends to it."""

from __future__ import annotations

from typing import Any

from integrations.simulators import common
from integrations.simulators.app import _guarded
from integrations.simulators.common import Invalid

blueprint = common.blueprint("sim_mca", "/mca")

NOTICE_TYPES = {
    "issuance": "证件发放通知",
    "production": "制证进度通知",
    "temp_card_return": "临时证件退证通知",
    "deregistration": "居住登记注销通知",
}


@blueprint.post("/v1/notifications")
def notify() -> Any:
    """Receive a notice; the same notice_id again returns the first receipt."""
    body = common.json_body()
    notice_id = common.text(body, "notice_id", max_len=64)
    if body.get("notice_type") not in NOTICE_TYPES:
        raise Invalid("UNKNOWN_NOTICE_TYPE", f"notice_type must be one of {', '.join(NOTICE_TYPES)}", 422)
    common.text(body, "business_no", max_len=40)
    common.id_number(body)
    common.text(body, "name", max_len=50)
    common.iso_datetime(body.get("occurred_at"), "occurred_at")
    detail = body.get("content", {})
    if not isinstance(detail, dict) or not all(isinstance(v, str) and len(v) <= 200 for v in detail.values()):
        raise Invalid("INVALID_FIELD", "content must map names to strings of at most 200 characters", 400)

    def create(receipt_no: str) -> dict[str, Any]:
        return {"id": receipt_no, "received_at": common.now()}

    record, duplicate = common.store("mca.notices", "MCA").remember(notice_id, body, create)
    return _guarded(
        "mca.notify",
        {
            "receipt_no": record["id"],
            "notice_id": notice_id,
            "received_at": record["received_at"],
            "duplicate": duplicate,
        },
    )
