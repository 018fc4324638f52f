"""SMS messages: their statuses, the append-only status history, and the queries of the ops API (B2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from models import SmsMessage, SmsStatusEvent, db
from processes.errors import BadRequest, NotFound
from processes.sms_blocklist import mobile_digests

MOBILE = re.compile(r"^1[3-9]\d{9}$")
STATUSES = ("queued", "sent", "delivered", "failed", "blocked")
OPEN = ("queued", "sent")  # statuses a delivery report may still change
REPORTED = ("delivered", "failed")
BLOCK_LABELS = {"deceased": "死亡"}
ERROR_LABELS = {
    "EMPTY_NUMBER": "空号",
    "UNDELIVERED": "未送达",
    "RATE_LIMITED": "平台限流",
    "SERVER_ERROR": "平台故障",
    "TIMEOUT": "平台超时",
    "CONNECTION_FAILED": "平台不可达",
    "CIRCUIT_OPEN": "平台暂停调用",
    "TEMPLATE_NOT_FOUND": "平台未登记该模板",
    "TEMPLATE_PARAMS": "模板参数不符",
}


def mask_mobile(mobile: str) -> str:
    """139****1234: enough for a person to recognise the number, useless to anyone else."""
    return mobile[:3] + "****" + mobile[-4:]


def blocked_text(reason: str) -> str:
    """Why a message was not sent, for people."""
    return f"已列入短信禁发名单：{BLOCK_LABELS.get(reason, reason)}（{reason}）"


def failure_text(code: str | None) -> str:
    """The platform's failure code, with its Chinese meaning when known."""
    code = (code or "UNDELIVERED")[:40]
    return f"{code}（{ERROR_LABELS[code]}）" if code in ERROR_LABELS else code


def add_event(message_id: int, status: str, source: str, reason: str | None = None) -> None:
    """Append a status event to the message's history."""
    db.session.add(SmsStatusEvent(message_id=message_id, status=status, source=source, reason=reason and reason[:200]))


def move_status(
    message_id: int, status: str, source: str, reason: str | None = None, *, only_from=OPEN, **values
) -> bool:
    """Change the status only forward (one conditional UPDATE: no lost update whatever the backend); log it."""
    won = db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.id == message_id, SmsMessage.status.in_(only_from))
        .values(status=status, status_reason=reason and reason[:200], **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won:
        add_event(message_id, status, source, reason)
    return bool(won)


def set_fields(message_id: int, **values: Any) -> None:
    """Set columns of a message without a status change."""
    db.session.execute(update(SmsMessage).where(SmsMessage.id == message_id).values(**values))


@dataclass
class MessageFilter:
    """Filters of the message list; every field optional."""

    status: str | None = None
    template_code: str | None = None
    business_key: str | None = None
    mobile: str | None = None


def list_messages(filters: MessageFilter, page: int, per_page: int) -> tuple[list[SmsMessage], int]:
    """A page of messages, newest first, and the total count."""
    query = select(SmsMessage)
    if filters.status:
        if filters.status not in STATUSES:
            raise BadRequest("BAD_FILTER", f"status 只能是 {'、'.join(STATUSES)}", {"field": "status"})
        query = query.where(SmsMessage.status == filters.status)
    if filters.template_code:
        query = query.where(SmsMessage.template_code == filters.template_code)
    if filters.business_key:
        query = query.where(SmsMessage.business_key == filters.business_key)
    if filters.mobile:
        if not MOBILE.match(filters.mobile):
            raise BadRequest("BAD_FILTER", "mobile 应为11位手机号码", {"field": "mobile"})
        query = query.where(SmsMessage.mobile_digest.in_(mobile_digests(filters.mobile)))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(query.order_by(SmsMessage.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return list(rows.scalars()), total


def get_message(message_id: int) -> SmsMessage:
    """One message, or NotFound."""
    message = db.session.get(SmsMessage, message_id)
    if message is None:
        raise NotFound("SMS_MESSAGE_NOT_FOUND", "短信记录不存在", {"message_id": message_id})
    return message


def message_history(message_id: int) -> list[SmsStatusEvent]:
    """The status events of a message, oldest first."""
    query = select(SmsStatusEvent).where(SmsStatusEvent.message_id == message_id).order_by(SmsStatusEvent.id)
    return list(db.session.execute(query).scalars())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def describe_message(message: SmsMessage, history: list[SmsStatusEvent] | None = None) -> dict[str, Any]:
    """The API view of a message: the mobile masked; the text and history only in the detail view."""
    out = {
        "id": message.id,
        "template_code": message.template_code,
        "template_version": message.template_version,
        "mobile": message.mobile_masked,
        "business_key": message.business_key,
        "status": message.status,
        "status_reason": message.status_reason,
        "attempts": message.attempts,
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "final_at": _iso(message.final_at),
    }
    if history is not None:
        out["body"] = message.body
        out["history"] = [
            {"status": e.status, "source": e.source, "reason": e.reason, "at": _iso(e.at)} for e in history
        ]
    return out
