"""SMS handler (B3): the `sms.send` operator lets a diagram notify the applicant of a business event.

The operator writes nothing itself: it asks the `sms_outbox` client, a narrow interface the platform
injects, to queue the message. It runs as a transactional operator, so the message row and its send job
are written in the step's own transaction: committed with the step, or not at all (a retried step can
never queue the message twice). The SMS goes out after the commit, through the outbox.
"""

from __future__ import annotations

from typing import Any, Protocol

from handlers.registry import operator


class SmsOutboxPort(Protocol):
    """What the operator may do with SMS: queue one templated message (block list checked by the platform)."""

    def request(
        self,
        template_code: str,
        mobile: str,
        params: dict[str, Any],
        *,
        id_number: str | None = None,
        business_key: str | None = None,
    ) -> dict[str, Any]:
        """Queue the message; {message_id, status: queued | blocked, duplicate}."""
        ...


@operator("sms.send", clients=("sms_outbox",), transactional=True)
def send_sms(
    *,
    sms_outbox: SmsOutboxPort,
    template_code: str,
    mobile: str,
    params: dict,
    id_number: str = "",
    business_key: str = "",
) -> dict[str, Any]:
    """Queue a templated SMS with this step (never to a blocked person); returns message_id and status."""
    return sms_outbox.request(
        template_code, mobile, params, id_number=id_number or None, business_key=business_key or None
    )
