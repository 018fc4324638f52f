"""Permit card businesses (A0): reissue (补办), report loss and cancel it (挂失/解挂), express production (快证)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from handlers.registry import HandlerError, operator
from models import db, utcnow
from models.domain import Permit, Person
from processes.integrity import require_intact

# Permits that no longer stand for a card the person may hold.
ENDED = ("voided", "cancelled")
# Card production has not finished yet: the request may still switch to express.
IN_PRODUCTION = ("approved", "producing")
# 补办类型: which permit states each type accepts (loss may be reported at the counter together with the reissue).
REISSUE_TYPES: dict[str, tuple[str, ...]] = {"loss": ("issued", "lost"), "damage": ("issued",), "lost_found": ("lost",)}
_TYPE_REFUSALS = {
    "damage": ("DAMAGE_NEEDS_CARD", "已挂失的居住证不能按损坏换领，请按遗失补领办理"),
    "lost_found": ("NOT_REPORTED_LOST", "居住证尚未挂失，请先办理挂失或按遗失补领办理"),
}


def find_person(id_number: str, name: str | None = None) -> Person:
    """The person on record with this ID number (and name), or the specific error."""
    person = require_intact(
        db.session.execute(select(Person).where(Person.id_number == id_number)).scalar_one_or_none()
    )
    if person is None:
        raise HandlerError("NO_RECORD", "未查询到该人员的登记记录")
    if name is not None and person.name != name:
        raise HandlerError("NAME_MISMATCH", "姓名与身份证号码不一致")
    if person.deceased:
        raise HandlerError("PERSON_DECEASED", "该人员已登记死亡，不能办理业务")
    return person


def current_permit(person_id: int) -> Permit | None:
    """The person's latest permit that is neither voided nor cancelled."""
    return require_intact(
        db.session.execute(
            select(Permit).where(Permit.person_id == person_id, Permit.status.not_in(ENDED)).order_by(Permit.id.desc())
        )
        .scalars()
        .first()
    )


def require_permit(person: Person) -> Permit:
    """The person's current permit, or NO_PERMIT."""
    permit = current_permit(person.id)
    if permit is None:
        raise HandlerError("NO_PERMIT", "该人员没有有效的居住证")
    return permit


def summary(permit: Permit | None) -> dict[str, Any] | None:
    """What a channel may see of a permit."""
    if permit is None:
        return None
    return {
        "number": permit.number,
        "status": permit.status,
        "card_status": permit.card_status,
        "express": permit.express,
        "valid_until": permit.valid_until.isoformat() if permit.valid_until else None,
    }


def request_new_card(old: Permit) -> Permit:
    """Void a permit and queue an approved replacement (same validity) for card production, which picks it up."""
    old.status = "voided"
    new = Permit(
        number=f"pending-{old.id}",
        person_id=old.person_id,
        registration_id=old.registration_id,
        status="approved",
        card_status="queued",
        rare_chars_ready=old.rare_chars_ready,
        express=False,
        expanded_eligibility=old.expanded_eligibility,
        photo_id=old.photo_id,
        valid_from=old.valid_from,
        valid_until=old.valid_until,
        pickup=old.pickup,
        replaces_id=old.id,
    )
    db.session.add(new)
    db.session.flush()
    new.number = f"JZ{date.today():%Y%m%d}{new.id:08d}"
    db.session.flush()
    return new


def _replacement(permit: Permit) -> Permit | None:
    return db.session.execute(select(Permit).where(Permit.replaces_id == permit.id)).scalars().first()


def _reissuable(person: Person, reissue_type: str) -> Permit:
    if reissue_type not in REISSUE_TYPES:
        raise HandlerError("REISSUE_TYPE_UNKNOWN", "补办类型只能是遗失、损坏或挂失后补领")
    permit = require_permit(person)
    if permit.status not in ("issued", "lost"):
        raise HandlerError("REISSUE_NOT_ALLOWED", "只有已签发或已挂失的居住证才能补办", {"status": permit.status})
    if permit.status not in REISSUE_TYPES[reissue_type]:
        code, message = _TYPE_REFUSALS[reissue_type]
        raise HandlerError(code, message, {"status": permit.status})
    return permit


@operator("reissue.check", transactional=True)
def check_reissue(*, id_number: str, name: str, reissue_type: str) -> dict[str, Any]:
    """Refuse a reissue the permit's state does not allow; the permit summary otherwise."""
    return summary(_reissuable(find_person(id_number, name), reissue_type))


@operator("reissue.apply", transactional=True)
def apply_reissue(*, id_number: str, reissue_type: str, old_card_returned: bool = False) -> dict[str, Any]:
    """Void the old permit and request a new card replacing it (damage: only with the old card handed in)."""
    person = find_person(id_number)
    permit = _reissuable(person, reissue_type)
    if reissue_type == "damage" and not old_card_returned:
        raise HandlerError("OLD_CARD_NOT_RETURNED", "损坏换领须交回原居住证")
    new = request_new_card(permit)
    # `notify` is taken out of the public result by the diagram: the mobile is for the SMS only.
    return summary(new) | {"replaces": permit.number, "notify": {"name": person.name, "mobile": person.mobile or ""}}


@operator("permit.report_loss", transactional=True)
def report_loss(*, id_number: str, name: str, reporter_id_number: str) -> dict[str, Any]:
    """Issued → lost; the reporter is remembered so only they can cancel it."""
    permit = require_permit(find_person(id_number, name))
    if permit.status == "lost":
        raise HandlerError("ALREADY_LOST", "该居住证已挂失")
    if permit.status != "issued":
        raise HandlerError("LOSS_NOT_ALLOWED", "只有已签发的居住证才能挂失", {"status": permit.status})
    permit.status, permit.lost_at, permit.lost_reported_by = "lost", utcnow(), reporter_id_number
    return summary(permit)


@operator("permit.cancel_loss", transactional=True)
def cancel_loss(*, id_number: str, name: str, reporter_id_number: str) -> dict[str, Any]:
    """Lost → issued, only by whoever reported it and only while no reissue has been made."""
    person = find_person(id_number, name)
    lost = (
        db.session.execute(
            select(Permit).where(Permit.person_id == person.id, Permit.lost_at.is_not(None)).order_by(Permit.id.desc())
        )
        .scalars()
        .first()
    )
    if lost is not None and (lost.status == "voided" or _replacement(lost) is not None):
        raise HandlerError("REISSUE_EXISTS", "已办理补办，不能解除挂失")
    permit = require_permit(person)
    if permit.status != "lost":
        raise HandlerError("NOT_LOST", "该居住证未挂失，无需解除挂失", {"status": permit.status})
    if permit.lost_reported_by != reporter_id_number:
        raise HandlerError("LOSS_REPORTER_MISMATCH", "只有挂失人本人才能解除挂失")
    permit.status, permit.lost_at, permit.lost_reported_by = "issued", None, None
    return summary(permit)


@operator("permit.expedite", transactional=True)
def expedite(*, id_number: str, name: str) -> dict[str, Any]:
    """A permit whose card is not made yet switches to express production."""
    permit = require_permit(find_person(id_number, name))
    if permit.status not in IN_PRODUCTION or permit.card_status in ("made", "delivered"):
        raise HandlerError("EXPRESS_NOT_ALLOWED", "只有尚在制证中的居住证才能转为快证", {"status": permit.status})
    if permit.express:
        raise HandlerError("ALREADY_EXPRESS", "该居住证已按快证制作")
    permit.express = True
    return summary(permit)
