"""Client of the big-data centre's SMS platform (大数据中心短信平台): templated business messages (B2, B3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from integrations.http import JsonHttpClient
from integrations.responses import call_as


@dataclass(frozen=True)
class SmsReceipt:
    """The platform's acceptance of a message; `duplicate` when the client message id was seen before."""

    msg_id: str
    client_msg_id: str
    status: str  # accepted
    accepted_at: str
    duplicate: bool


@dataclass(frozen=True)
class DeliveryStatus:
    """The delivery report of a message."""

    msg_id: str
    client_msg_id: str
    status: str  # pending | delivered | failed
    error_code: str | None  # e.g. EMPTY_NUMBER (空号)
    reported_at: str


class SmsClient(JsonHttpClient):
    """Typed operations on the SMS platform. The block list (B3) is the caller's to check before sending."""

    system = "sms"

    def send(
        self,
        template_code: str,
        mobile: str,
        params: Mapping[str, str],
        client_msg_id: str,
        *,
        callback_url: str | None = None,
        business_key: str | None = None,
    ) -> SmsReceipt:
        """Send a templated message; the same client_msg_id is never sent twice, so retries are safe."""
        body = {
            "template_code": template_code,
            "mobile": mobile,
            "params": dict(params),
            "client_msg_id": client_msg_id,
        }
        if callback_url:
            body["callback_url"] = callback_url
        return call_as(self, SmsReceipt, "send", "POST", "/v1/messages", body=body, business_key=business_key)

    def delivery_status(self, msg_id: str, *, business_key: str | None = None) -> DeliveryStatus:
        """Whether a message reached the phone."""
        path = f"/v1/messages/{quote(msg_id, safe='')}"
        return call_as(self, DeliveryStatus, "delivery_status", "GET", path, business_key=business_key)
