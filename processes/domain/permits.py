"""A6 new residence permits and their state rules, as transactional operators of the permit diagram."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from handlers.registry import HandlerError, operator
from models import db, utcnow
from models.domain import Permit, Person, Photo
from models.process import ProcessInstance
from processes.domain.registration_rules import latest_photo
from processes.domain.registrations import _years_later, active_registration, registration_months
from processes.integrity import require_intact

OPEN_STATUSES = ("applying", "approved", "producing", "issued")  # one per person at a time
BLOCKED_STATUSES = ("lost", "cancelled")  # only a reissue (补领) may follow
PERMIT_YEARS = 1  # a permit is valid one year and extended by endorsement (签注)


def _refusal(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message}


def find_permit(number: str) -> Permit:
    """The permit with this number, or the PERMIT_NOT_FOUND error."""
    permit = require_intact(db.session.execute(select(Permit).where(Permit.number == number)).scalar_one_or_none())
    if permit is None:
        raise HandlerError("PERMIT_NOT_FOUND", f"居住证 {number} 不存在")
    return permit


def ensure_not_blocked(permit: Permit, action: str) -> None:
    """A lost or cancelled permit can be neither endorsed nor issued again: only reissued (补领)."""
    if permit.status in BLOCKED_STATUSES:
        state = "已挂失" if permit.status == "lost" else "已注销"
        raise HandlerError("PERMIT_BLOCKED", f"居住证 {permit.number} {state}，不能{action}，请办理补领")


def _require(permit: Permit, statuses: tuple[str, ...], action: str) -> None:
    ensure_not_blocked(permit, action)
    if permit.status not in statuses:
        raise HandlerError(
            "PERMIT_WRONG_STATE",
            f"居住证 {permit.number} 当前状态为 {permit.status}，不能{action}",
            {"status": permit.status},
        )


def _instance_id(business_key: str) -> int | None:
    # The permit remembers the instance that applied for it, so card results can be correlated back to it.
    return db.session.execute(
        select(ProcessInstance.id)
        .where(ProcessInstance.business_key == business_key, ProcessInstance.process_key == "permit_application")
        .order_by(ProcessInstance.id.desc())
        .limit(1)
    ).scalar_one_or_none()


@operator("permit.open", transactional=True)
def open_application(*, applicant: dict, submitted_on: str, business_key: str = "") -> dict[str, Any]:
    """Open a permit application if the state rules allow it; a refusal writes nothing and says why."""
    person = require_intact(
        db.session.execute(select(Person).where(Person.id_number == applicant["id_number"])).scalar_one_or_none()
    )
    if person is not None and person.deceased:
        return _refusal("PERSON_DECEASED", "该人员已登记死亡，不能申办居住证")
    registration = active_registration(person.id) if person is not None else None
    if registration is None:
        return _refusal("NO_ACTIVE_REGISTRATION", "未查询到有效的居住登记，请先办理居住登记后再申办居住证")
    permits = db.session.execute(select(Permit).where(Permit.person_id == person.id)).scalars().all()
    current = next((p for p in permits if p.status in OPEN_STATUSES), None)
    if current is not None:
        what = "已持有有效居住证" if current.status == "issued" else "已有居住证申请正在办理"
        return _refusal("PERMIT_ALREADY_OPEN", f"申请人{what}（{current.number}），不能重复申办")
    blocked = next((p for p in permits if p.status in BLOCKED_STATUSES), None)
    if blocked is not None:
        return _refusal("PERMIT_NEEDS_REISSUE", f"原居住证 {blocked.number} 已挂失或注销，请办理补领，不能新办")
    photo = latest_photo(person.id)  # A4: the latest photo, whatever the registration used
    if photo is None:
        return _refusal("MATERIAL_MISSING_PHOTO", "缺少制证照片，请先采集或上传本人近期照片")
    day = date.fromisoformat(submitted_on)
    permit = Permit(
        number="pending",
        person_id=person.id,
        registration_id=registration.id,
        status="applying",
        photo_id=photo.id,
        pickup=applicant.get("delivery") or "counter",
        instance_id=_instance_id(business_key) if business_key else None,
    )
    db.session.add(permit)
    db.session.flush()
    permit.number = f"JZ{day:%Y%m%d}{permit.id:08d}"
    return {
        "ok": True,
        "code": "",
        "message": "已受理",
        "number": permit.number,
        "registration_number": registration.number,
        "registration_months": registration_months(registration, day),
        "address_code": registration.address_code or "",
        "address": registration.address,
    }


def _void(number: str, status: str, action: str, reason: str) -> dict[str, Any]:
    permit = find_permit(number)
    _require(permit, (status,), action)
    permit.status = "voided"
    return {"number": number, "status": "voided", "reason": reason}


@operator("permit.close", transactional=True)
def close_application(*, number: str, reason: str) -> dict[str, Any]:
    """A refused or rejected application is voided, so the person may apply again."""
    return _void(number, "applying", "撤销申请", reason)


@operator("permit.approve", transactional=True)
def approve_permit(*, number: str, issued_on: str, expanded: bool = False) -> dict[str, Any]:
    """Approval done: the permit gets its validity and is queued for card production."""
    permit = find_permit(number)
    _require(permit, ("applying",), "审批通过")
    day = date.fromisoformat(issued_on)
    permit.status, permit.card_status, permit.expanded_eligibility = "approved", "queued", expanded
    permit.valid_from = day
    permit.valid_until = _years_later(day, PERMIT_YEARS)
    return {"number": number, "status": "approved", "valid_until": permit.valid_until.isoformat()}


@operator("permit.requeue", transactional=True)
def requeue_permit(*, number: str, rare_chars_ready: bool = False) -> dict[str, Any]:
    """A failed card goes back to the production queue once its cause is fixed (e.g. rare characters)."""
    permit = find_permit(number)
    _require(permit, ("approved",), "重新制证")
    if permit.card_status != "failed":
        raise HandlerError("CARD_NOT_FAILED", f"居住证 {number} 制证未失败，无需重新制证")
    permit.card_status = "queued"
    permit.rare_chars_ready = permit.rare_chars_ready or rare_chars_ready
    return {"number": number, "card_status": "queued", "rare_chars_ready": permit.rare_chars_ready}


@operator("permit.void", transactional=True)
def void_permit(*, number: str, reason: str) -> dict[str, Any]:
    """A card that cannot be made is given up: the approved permit is voided with the reason."""
    return _void(number, "approved", "作废", reason)


@operator("permit.issue", transactional=True)
def issue_permit(*, number: str, pickup: str, waybill_no: str = "") -> dict[str, Any]:
    """Hand the made card over (post or counter): the permit becomes issued."""
    permit = find_permit(number)
    _require(permit, ("producing",), "发证")
    if permit.card_status != "made":
        raise HandlerError("CARD_NOT_MADE", f"居住证 {number} 尚未制卡成功，不能发证")
    permit.status, permit.card_status, permit.pickup = "issued", "delivered", pickup
    permit.waybill_no, permit.issued_at = waybill_no or None, utcnow()
    person = require_intact(db.session.get(Person, permit.person_id))
    photo = require_intact(db.session.get(Photo, permit.photo_id))
    return {
        "number": number,
        "status": "issued",
        "pickup": pickup,
        "waybill_no": waybill_no or None,
        "valid_from": permit.valid_from.isoformat(),
        "valid_until": permit.valid_until.isoformat(),
        "id_number": person.id_number,
        "name": person.name,
        "photo_sm3": photo.sm3,
    }
