"""Civil-affairs (民政 3.0) handler: notifying the related departments of a deregistration (A3)."""

from __future__ import annotations

from typing import Any

from handlers.registry import operator
from integrations.mca_notify import McaNotifyClient, Notice

REASONS = {
    "request": "本人申请注销",
    "moved_away": "迁离本市",
    "deceased": "死亡",
    "superseded": "重新登记",
    "expired": "有效期届满",
}


@operator("mca.notify_deregistration", clients=("mca_notify",), max_attempts=5, backoff_seconds=2.0)
def notify_deregistration(
    *, mca_notify: McaNotifyClient, registration_number: str, id_number: str, name: str, reason: str, occurred_at: str
) -> dict[str, Any]:
    """Send the deregistration notice; a repeated notice returns the same receipt (idempotent by notice id)."""
    receipt = mca_notify.notify(
        Notice(
            notice_id=f"DR-{registration_number}",
            notice_type="deregistration",
            business_no=registration_number,
            id_number=id_number,
            name=name,
            occurred_at=occurred_at,
            content={"reason": reason, "reason_text": REASONS.get(reason, reason)},
        )
    )
    return {"department": "mca3", "receipt_no": receipt.receipt_no, "duplicate": receipt.duplicate}
