"""C2.3 undo (撤销): reissue (three types), identity-information change, permit application, residence
registration and permit issuance — each with its documented effect on dependent records (README table)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from handlers.registry import HandlerError
from integrations.idnumber import birth_date, gender
from models import ProcessInstance, db, utcnow
from models.changes import ChangeRequest
from models.domain import Endorsement, Permit, Person, ResidenceRegistration
from processes.changes.common import PERMIT_FIELD, permit, person_of, plain, require_unchanged, who
from processes.changes.registry import ChangeType, Prepared, form, register
from processes.domain.deregistrations import registration_by_number
from processes.integrity import require_intact

NOT_EXPORTED = ("queued", "failed", "none")  # the card factory has not got the card yet
REISSUE_TYPES = [["loss", "遗失补领"], ["damage", "损坏换领"], ["lost_found", "挂失后补领"]]
ENDED = ("voided", "cancelled")


def _once(change_type: str, target: str) -> None:
    """An undo runs once per record: refuse while another undo of it is pending or after one was applied."""
    other = db.session.execute(
        select(ChangeRequest.number).where(
            ChangeRequest.change_type == change_type,
            ChangeRequest.target == target,
            ChangeRequest.status.in_(("pending", "applied")),
        )
    ).first()
    if other is not None:
        raise HandlerError("UNDO_EXISTS", f"该业务已有撤销申请（{other[0]}），不能重复申请")


def _too_late(message: str, **details: Any) -> HandlerError:
    return HandlerError("UNDO_TOO_LATE", message, details)


def _state(row: Permit) -> dict[str, Any]:
    return {"status": row.status, "card_status": row.card_status}


# --- reissue -------------------------------------------------------------------------------------------------


def _reissue_pair(fields: dict[str, Any]) -> tuple[Permit, Permit]:
    new = permit(fields["permit_number"])
    old = db.session.get(Permit, new.replaces_id) if new.replaces_id else None
    if old is None:
        raise HandlerError("NOT_A_REISSUE", f"居住证 {new.number} 不是补办产生的新证")
    if new.status != "approved" or new.card_status not in NOT_EXPORTED:
        raise _too_late("新证已交制卡厂制作或已发放，不能撤销补办", status=new.status, card_status=new.card_status)
    if old.status != "voided":
        raise HandlerError("REISSUE_STATE_INVALID", f"原证 {old.number} 状态为 {old.status}，不能恢复")
    kind = fields["reissue_type"]
    if kind == "lost_found" and old.lost_at is None:
        raise HandlerError("REISSUE_TYPE_MISMATCH", "原证未挂失，不是挂失后补领")
    if kind == "damage" and old.lost_at is not None:
        raise HandlerError("REISSUE_TYPE_MISMATCH", "原证已挂失，不是损坏换领")
    return new, old


def _prepare_reissue(fields: dict[str, Any]) -> Prepared:
    new, old = _reissue_pair(fields)
    _once("undo_reissue", new.number)
    restored = "issued" if fields["reissue_type"] == "damage" else "lost"
    before = {"new": _state(new), "old": _state(old)}
    proposed = {"new": {"status": "voided"}, "old": {"status": restored}}
    return Prepared(f"{who(person_of(new))} {new.number}", new.number, new.person_id, before, proposed)


def _apply_reissue(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    new, old = _reissue_pair(fields)
    require_unchanged({"new": _state(new), "old": _state(old)}, before)
    new.status = "voided"
    if fields["reissue_type"] == "damage":
        old.status = "issued"  # the damaged card handed in goes back into use
    else:
        # A lost card stays reported lost: only its holder may cancel the loss later (A0 rule).
        old.status = "lost"
        old.lost_at = old.lost_at or utcnow()
        old.lost_reported_by = old.lost_reported_by or person_of(old).id_number
    return {"new": _state(new), "old": _state(old)}


# --- identity-information change (A0 identity_info_change) ----------------------------------------------------


def _identity_case(fields: dict[str, Any]) -> tuple[ProcessInstance, dict[str, Any]]:
    from processes.platform import get_platform  # here: the platform imports this package

    instance = db.session.execute(
        select(ProcessInstance)
        .where(
            ProcessInstance.process_key == "identity_info_change",
            ProcessInstance.business_key == fields["business_key"],
        )
        .order_by(ProcessInstance.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if instance is None or instance.status != "completed" or (instance.result or {}).get("outcome") != "changed":
        raise HandlerError("IDENTITY_CHANGE_NOT_FOUND", "未找到已生效的身份信息变更业务")
    platform = get_platform()
    return instance, platform.engine.data(platform.engine.load(instance.snapshot, instance.public_id))


def _identity_plan(fields: dict[str, Any]) -> tuple[Person, dict[str, Any], dict[str, Any], Permit | None]:
    _instance, data = _identity_case(fields)
    request, change = data.get("request") or {}, data.get("identity_change") or {}
    person = require_intact(
        db.session.execute(select(Person).where(Person.id_number == request["id_number"])).scalar_one()
    )
    id_number = request["id_number"]
    restore: dict[str, Any] = {}
    expected: dict[str, Any] = {}  # what the change wrote: it must still be on record
    for column in change.get("changed", []):
        expected[column] = request.get(f"new_{column}")
        if column == "name":
            restore[column] = request["name"]
        elif column == "gender":
            restore[column] = gender(id_number)
        elif column == "birth_date":
            restore[column] = birth_date(id_number).isoformat()
        elif column == "ethnicity":
            if not fields.get("restore_ethnicity"):
                raise HandlerError("RESTORE_VALUE_REQUIRED", "该变更修改了民族，请填写需恢复的原民族")
            restore[column] = fields["restore_ethnicity"]
    current = {c: plain(getattr(person, c)) for c in expected}
    if current != expected:
        raise HandlerError("CHANGED_SINCE", "身份信息在该变更之后又被修改，不能直接撤销", {"fields": sorted(expected)})
    new_permit = None
    if change.get("new_permit"):
        new_permit = permit(change["new_permit"]["number"])
        if new_permit.status != "approved" or new_permit.card_status not in NOT_EXPORTED:
            raise _too_late("变更后换发的新证已交制卡厂制作或已发放，不能撤销；请先办理错证重置")
    return person, restore, current, new_permit


def _prepare_identity(fields: dict[str, Any]) -> Prepared:
    person, restore, current, new_permit = _identity_plan(fields)
    _once("undo_identity_change", fields["business_key"])
    before = {"person": current, "new_permit": _state(new_permit) if new_permit else None}
    proposed = {"person": restore, "new_permit": {"status": "voided"} if new_permit else None}
    return Prepared(who(person), fields["business_key"], person.id, before, proposed)


def _apply_identity(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    person, restore, current, new_permit = _identity_plan(fields)
    require_unchanged({"person": current, "new_permit": _state(new_permit) if new_permit else None}, before)
    for column, value in restore.items():
        setattr(person, column, date.fromisoformat(value) if column == "birth_date" else value)
    person.updated_at = utcnow()
    after: dict[str, Any] = {"person": restore, "new_permit": None, "old_permit": None}
    if new_permit is not None:
        new_permit.status = "voided"
        old = db.session.get(Permit, new_permit.replaces_id)
        old.status = "lost" if old.lost_at else "issued"  # the card the person still holds is valid again
        after["new_permit"], after["old_permit"] = _state(new_permit), {"number": old.number, **_state(old)}
    return after


# --- permit application ------------------------------------------------------------------------------------------


def _application(fields: dict[str, Any]) -> Permit:
    row = permit(fields["permit_number"])
    if row.status not in ("applying", "approved") or row.card_status not in NOT_EXPORTED:
        raise _too_late("居住证已交制卡厂制作或已发放，不能撤销申请", status=row.status, card_status=row.card_status)
    return row


def _prepare_application(fields: dict[str, Any]) -> Prepared:
    row = _application(fields)
    _once("undo_permit_application", row.number)
    return Prepared(f"{who(person_of(row))} {row.number}", row.number, row.person_id, _state(row), {"status": "voided"})


def _apply_application(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    row = _application(fields)
    require_unchanged(_state(row), before)
    row.status = "voided"
    cancelled = _cancel_instance(row.instance_id, f"变更申请 {number} 撤销居住证申请")
    return _state(row) | {"instance_cancelled": cancelled}


def _cancel_instance(instance_id: int | None, reason: str) -> bool:
    """Cancel the business's own process if it still runs (it would otherwise wait for a card forever)."""
    from processes.instances import cancel_instance
    from processes.platform import get_platform
    from processes.stepping import ACTIVE, Actor

    instance = db.session.get(ProcessInstance, instance_id) if instance_id else None
    if instance is None or instance.status not in ACTIVE:
        return False
    cancel_instance(get_platform(), instance.public_id, Actor.system(), reason)
    return True


# --- residence registration ---------------------------------------------------------------------------------------


def _registration(fields: dict[str, Any]) -> tuple[ResidenceRegistration, ResidenceRegistration | None]:
    row = registration_by_number(fields["registration_number"].strip())
    if row.status != "active":
        raise HandlerError("REGISTRATION_NOT_ACTIVE", "只能撤销有效的居住登记", {"status": row.status})
    open_permits = (
        db.session.execute(select(Permit.number).where(Permit.registration_id == row.id, Permit.status.not_in(ENDED)))
        .scalars()
        .all()
    )
    if open_permits:
        raise HandlerError(
            "REGISTRATION_HAS_PERMIT",
            f"该居住登记下有居住证（{'、'.join(open_permits)}），请先撤销居住证申请或发证",
            {"permits": open_permits},
        )
    previous = db.session.get(ResidenceRegistration, row.previous_id) if row.previous_id else None
    return row, previous if previous is not None and previous.status == "superseded" else None


def _reg_state(row: ResidenceRegistration | None) -> dict[str, Any] | None:
    return None if row is None else {"number": row.number, "status": row.status}


def _prepare_registration(fields: dict[str, Any]) -> Prepared:
    row, previous = _registration(fields)
    _once("undo_registration", row.number)
    person = require_intact(db.session.get(Person, row.person_id))
    before = {"registration": _reg_state(row), "previous": _reg_state(previous)}
    proposed = {"registration": {"status": "revoked"}, "previous": {"status": "active"} if previous else None}
    return Prepared(f"{who(person)} {row.number}", row.number, row.person_id, before, proposed)


def _apply_registration(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    row, previous = _registration(fields)
    require_unchanged({"registration": _reg_state(row), "previous": _reg_state(previous)}, before)
    row.status, row.ended_at = "revoked", utcnow()
    if previous is not None:  # the registration an address change superseded is in force again
        previous.status, previous.ended_at = "active", None
    return {"registration": _reg_state(row), "previous": _reg_state(previous)}


# --- permit issuance --------------------------------------------------------------------------------------------------


def _issued(fields: dict[str, Any]) -> Permit:
    row = permit(fields["permit_number"])
    if row.status != "issued":
        raise HandlerError("PERMIT_NOT_ISSUED", "只能撤销已发证的居住证", {"status": row.status})
    endorsed = db.session.execute(select(Endorsement.id).where(Endorsement.permit_id == row.id).limit(1)).first()
    if endorsed is not None:
        raise _too_late("该证发证后已办理签注，不能撤销发证")
    return row


def _issue_state(row: Permit) -> dict[str, Any]:
    return _state(row) | {"issued_at": plain(row.issued_at.isoformat()) if row.issued_at else None}


def _prepare_issuance(fields: dict[str, Any]) -> Prepared:
    row = _issued(fields)
    _once("undo_permit_issuance", row.number)
    proposed = {"status": "producing", "card_status": "made", "issued_at": None}
    return Prepared(f"{who(person_of(row))} {row.number}", row.number, row.person_id, _issue_state(row), proposed)


def _apply_issuance(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    row = _issued(fields)
    require_unchanged(_issue_state(row), before)
    # The card is back at the centre waiting to be handed over (C2.4 "permit_handover" issues it again).
    row.status, row.card_status, row.issued_at, row.waybill_no = "producing", "made", None, None
    return _issue_state(row)


UNDO_RULES = {
    "undo_reissue": "新证作废（须尚未交制卡厂）；原证恢复：损坏换领→已发证，遗失补领/挂失后补领→挂失状态（保留挂失人）",
    "undo_identity_change": "姓名/性别/出生日期/民族恢复原值（性别、出生日期取自身份证号码，民族由申请人填写）；"
    "变更时换发的新证作废、原证恢复（新证须尚未交制卡厂）",
    "undo_permit_application": "居住证（申请中或已批准、尚未交制卡厂）作废，申请流程取消，可重新申办",
    "undo_registration": "居住登记撤销（须无未作废的居住证）；若为住址变更产生的登记，被取代的原登记恢复有效",
    "undo_permit_issuance": "已发证→待发证（已制卡），发证时间、运单号清除；发证后已签注的不能撤销；"
    "可经“窗口发证”重新发证",
}


def _undo(code: str, label: str, fields: list[dict[str, Any]], prepare, apply) -> None:
    register(
        ChangeType(
            code=code,
            label=label,
            group="undo",
            levels=2,
            form=form(code, label, fields),
            prepare=prepare,
            apply=apply,
            undo_rule=UNDO_RULES[code],
            description=UNDO_RULES[code],
        )
    )


_undo(
    "undo_reissue",
    "撤销补办（遗失、损坏、挂失后补领）",
    [
        {**PERMIT_FIELD, "label": "补办产生的新证编号"},
        {"name": "reissue_type", "label": "补办类型", "type": "choice", "required": True, "choices": REISSUE_TYPES},
    ],
    _prepare_reissue,
    _apply_reissue,
)
_undo(
    "undo_identity_change",
    "撤销身份信息变更",
    [
        {"name": "business_key", "label": "身份信息变更业务编号", "type": "string", "required": True, "max_length": 64},
        {
            "name": "restore_ethnicity",
            "label": "需恢复的原民族（变更了民族时填写）",
            "type": "string",
            "max_length": 20,
        },
    ],
    _prepare_identity,
    _apply_identity,
)
_undo("undo_permit_application", "撤销居住证申请", [PERMIT_FIELD], _prepare_application, _apply_application)
_undo(
    "undo_registration",
    "撤销居住登记",
    [{"name": "registration_number", "label": "居住登记编号", "type": "string", "required": True, "max_length": 32}],
    _prepare_registration,
    _apply_registration,
)
_undo("undo_permit_issuance", "撤销发证", [PERMIT_FIELD], _prepare_issuance, _apply_issuance)
