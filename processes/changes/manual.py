"""C2.4 manual actions: push a permit's e-licence again, send the endorsement reminder by hand, and hand a card
over at the counter (after an undone issuance)."""

from __future__ import annotations

from typing import Any

from handlers.registry import HandlerError
from models import db, utcnow
from models.domain import Photo
from processes.changes.common import PERMIT_FIELD, permit, person_of, require_unchanged, who
from processes.changes.registry import ChangeType, Prepared, form, register
from processes.integrity import require_intact

REMIND_TEMPLATE = "ENDORSE_REMIND"


def _issued(number: str):
    row = permit(number)
    if row.status != "issued":
        raise HandlerError("PERMIT_NOT_ISSUED", "只有已发证的居住证才能办理", {"status": row.status})
    return row


def _prepare_push(fields: dict[str, Any]) -> Prepared:
    row = _issued(fields["permit_number"])
    return Prepared(
        f"{who(person_of(row))} {row.number}", row.number, row.person_id, {"status": row.status}, {"推送": "电子证照"}
    )


def _apply_push(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    row = _issued(fields["permit_number"])
    person = person_of(row)
    photo = require_intact(db.session.get(Photo, row.photo_id)) if row.photo_id else None
    if photo is None:
        raise HandlerError("NO_PHOTO", "该居住证没有制证照片，不能生成电子证照")
    # The push itself is an external call: the diagram makes it (elicence.push_permit) after this commits.
    push = {
        "permit_no": row.number,
        "id_number": str(person.id_number),
        "name": person.name,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat(),
        "photo_sm3": photo.sm3,
    }
    return {"requested_at": utcnow().isoformat(timespec="seconds"), "push": push}


def _prepare_remind(fields: dict[str, Any]) -> Prepared:
    from processes.sms_blocklist import is_blocked

    row = _issued(fields["permit_number"])
    person = person_of(row)
    if not person.mobile:
        raise HandlerError("NO_MOBILE", "该人员没有登记手机号码，不能发送短信")
    if person.deceased or is_blocked(id_number=str(person.id_number), mobile=str(person.mobile)):
        raise HandlerError("SMS_BLOCKED", "该人员在短信禁发名单中，不能发送短信")
    due = row.valid_until.isoformat()
    return Prepared(
        f"{who(person)} {row.number}", row.number, row.person_id, {"valid_until": due}, {"短信": "签注提醒"}
    )


def _apply_remind(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    from processes.platform import get_platform
    from processes.sms import request_sms
    from processes.stepping import Actor

    row = _issued(fields["permit_number"])
    require_unchanged({"valid_until": row.valid_until}, before)
    person = person_of(row)
    # Queued in this transaction (the outbox sends after commit); a blocked person gets a 'blocked' record only.
    message, _ = request_sms(
        get_platform(),
        REMIND_TEMPLATE,
        str(person.mobile),
        {"name": person.name, "due_date": row.valid_until.isoformat()},
        id_number=str(person.id_number),
        business_key=number,
        actor=Actor.system(),
        dedupe_key=f"change:{number}",
    )
    return {"sms_message_id": message.id, "sms_status": message.status}


def _prepare_handover(fields: dict[str, Any]) -> Prepared:
    row = permit(fields["permit_number"])
    if row.status != "producing" or row.card_status != "made":
        raise HandlerError("CARD_NOT_READY", "只有已制卡、待发证的居住证才能窗口发证", {"status": row.status})
    before = {"status": row.status, "card_status": row.card_status}
    return Prepared(f"{who(person_of(row))} {row.number}", row.number, row.person_id, before, {"status": "issued"})


def _apply_handover(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    row = permit(fields["permit_number"])
    require_unchanged({"status": row.status, "card_status": row.card_status}, before)
    row.status, row.card_status, row.pickup, row.issued_at = "issued", "delivered", "counter", utcnow()
    return {"status": row.status, "card_status": row.card_status, "pickup": "counter"}


for code, label, prepare, apply, description in (
    (
        "elicence_push",
        "人工推送电子证照",
        _prepare_push,
        _apply_push,
        "重新生成并推送已发证居住证的电子证照，一级审核。",
    ),
    (
        "endorsement_reminder",
        "人工发送签注提醒短信",
        _prepare_remind,
        _apply_remind,
        "向持证人发送签注提醒短信（禁发名单中的人员不发送），一级审核。",
    ),
    (
        "permit_handover",
        "窗口发证（撤销发证后重新发证）",
        _prepare_handover,
        _apply_handover,
        "已制卡、待发证的居住证在窗口交付持证人，一级审核。",
    ),
):
    register(
        ChangeType(
            code=code,
            label=label,
            group="manual",
            levels=1,
            form=form(code, label, [PERMIT_FIELD]),
            prepare=prepare,
            apply=apply,
            description=description,
        )
    )
