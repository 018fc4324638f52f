"""A2 registration rules (B1.17 unified validation) and A4 latest photo, as transactional operators."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from handlers.registry import operator
from models import db
from models.domain import Person, Photo
from models.platform import AppUser
from processes.domain.deregistrations import registration_by_number
from processes.domain.registrations import active_registration
from processes.integrity import require_intact


def _refusal(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message}


@operator("registration.validate", transactional=True)
def validate_registration(*, applicant: dict, channel: str = "") -> dict[str, Any]:
    """B1.17: is the service point legal, is the applicant legal, can this business be done? Writes nothing."""
    point = (applicant.get("service_point") or "").strip()
    if point:
        # A service point is legal when staff work there: the user directory is the register of points.
        known = db.session.execute(
            select(AppUser.id).where(AppUser.service_point == point, AppUser.active.is_(True)).limit(1)
        ).first()
        if known is None:
            return _refusal("SERVICE_POINT_UNKNOWN", f"受理网点“{point}”不存在或未开通居住登记业务")
    person = require_intact(
        db.session.execute(select(Person).where(Person.id_number == applicant["id_number"])).scalar_one_or_none()
    )
    if person is not None and person.deceased:
        return _refusal("PERSON_DECEASED", "该人员已登记死亡，不能办理居住登记")
    if person is not None:
        current = active_registration(person.id)
        if current is not None and current.address == applicant.get("address"):
            return _refusal(
                "ALREADY_REGISTERED_HERE",
                f"申请人已在该地址办理居住登记（{current.number}），有效期至{current.valid_until}，无需重复登记",
            )
    return {"ok": True, "code": "", "message": "校验通过", "channel": channel}


def latest_photo(person_id: int) -> Photo | None:
    """A4: the person's most recently taken photo (older ones stay on record, hidden from clerks)."""
    return require_intact(
        db.session.execute(
            select(Photo).where(Photo.person_id == person_id).order_by(Photo.taken_at.desc(), Photo.id.desc()).limit(1)
        ).scalar_one_or_none()
    )


@operator("registration.attach_latest_photo", transactional=True)
def attach_latest_photo(*, number: str) -> dict[str, Any]:
    """A4: the registration uses the person's latest photo; returns its id and digest (None when none)."""
    registration = registration_by_number(number)
    photo = latest_photo(registration.person_id)
    registration.photo_id = photo.id if photo is not None else None
    if photo is None:
        return {"photo_id": None, "sm3": None, "taken_at": None}
    return {"photo_id": photo.id, "sm3": photo.sm3, "taken_at": photo.taken_at.isoformat()}
