"""Client of the civil-affairs platform 3.0 (民政 3.0) notices we send it (A3, B1.5, B1.16)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from integrations.http import JsonHttpClient
from integrations.responses import call_as

NOTICE_TYPES = ("issuance", "production", "temp_card_return", "deregistration")


@dataclass(frozen=True)
class Notice:
    """A notice to MCA 3.0 about one business; `content` carries type-specific fields (office, pickup, …)."""

    notice_id: str  # ours, unique per notice: sending it again returns the same receipt
    notice_type: str  # one of NOTICE_TYPES
    business_no: str
    id_number: str
    name: str
    occurred_at: str  # ISO 8601 date-time
    content: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NoticeReceipt:
    """MCA 3.0's receipt for a notice."""

    receipt_no: str
    notice_id: str
    received_at: str
    duplicate: bool


class McaNotifyClient(JsonHttpClient):
    """Typed outbound operations on the civil-affairs platform 3.0."""

    system = "mca3"

    def notify(self, notice: Notice, *, business_key: str | None = None) -> NoticeReceipt:
        """Send a notice (issuance, production progress, temporary-card return, deregistration)."""
        if notice.notice_type not in NOTICE_TYPES:
            raise ValueError(f"notice_type must be one of {NOTICE_TYPES}")
        body = {
            "notice_id": notice.notice_id,
            "notice_type": notice.notice_type,
            "business_no": notice.business_no,
            "id_number": notice.id_number,
            "name": notice.name,
            "occurred_at": notice.occurred_at,
            "content": dict(notice.content),
        }
        return call_as(
            self,
            NoticeReceipt,
            "notify",
            "POST",
            "/v1/notifications",
            body=body,
            business_key=business_key or notice.business_no,
        )
