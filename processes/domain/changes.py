"""Information businesses (A0): address, general and identity changes, and the information query."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.registry import HandlerError, operator
from integrations.idnumber import mask
from models import db, utcnow
from models.domain import Permit, Person, ResidenceRegistration
from processes.domain.registrations import active_registration
from processes.domain.reissue import ENDED, current_permit, find_person, request_new_card, summary
from processes.integrity import require_intact

GENERAL_FIELDS = ("mobile", "education", "employer", "household_address")
IDENTITY_FIELDS = {
    "new_name": "name",
    "new_gender": "gender",
    "new_birth_date": "birth_date",
    "new_ethnicity": "ethnicity",
}
# A permit whose card shows the identity: a change needs a new card (a permit still in production is simply made
# from the new data).
CARD_HOLDING = ("issued", "lost")


def _require_registration(person: Person) -> ResidenceRegistration:
    registration = active_registration(person.id)
    if registration is None:
        raise HandlerError("NO_ACTIVE_REGISTRATION", "该人员没有有效的居住登记")
    return registration


def _registration_summary(registration: ResidenceRegistration | None) -> dict[str, Any] | None:
    if registration is None:
        return None
    return {
        "number": registration.number,
        "status": registration.status,
        "address": registration.address,
        "district": registration.district,
        "valid_until": registration.valid_until.isoformat() if registration.valid_until else None,
    }


@operator("address.check", transactional=True)
def check_address_change(*, id_number: str, name: str, new_address: str, new_district: str) -> dict[str, Any]:
    """Refuse an address change without an active registration or to the same address; say if it crosses districts."""
    registration = _require_registration(find_person(id_number, name))
    if registration.address == new_address:
        raise HandlerError("SAME_ADDRESS", "新居住地址与现登记地址相同")
    return {
        "registration": registration.number,
        "current_district": registration.district,
        "cross_district": bool(registration.district) and registration.district != new_district,
    }


@operator("address.apply", transactional=True)
def apply_address_change(
    *,
    id_number: str,
    new_address: str,
    new_district: str,
    address_code: str = "",
    service_point: str = "",
    channel: str = "",
) -> dict[str, Any]:
    """A new registration at the new address supersedes the old (history kept); the permit follows it."""
    person = find_person(id_number)
    old = _require_registration(person)
    old.status, old.ended_at = "superseded", utcnow()
    # The change keeps the registration's dates: the residence period (A1 wait, validity) continues.
    new = ResidenceRegistration(
        number=f"pending-{old.id}",
        person_id=person.id,
        status="active",
        address=new_address,
        address_code=address_code or None,
        house_id=None,
        district=new_district,
        service_point=service_point or old.service_point,
        reason=old.reason,
        channel=channel or None,
        registered_on=old.registered_on,
        valid_until=old.valid_until,
        insured_months=old.insured_months,
        photo_id=old.photo_id,
        previous_id=old.id,
    )
    db.session.add(new)
    db.session.flush()
    new.number = f"DJ{date.today():%Y%m%d}{new.id:08d}"
    permits = (
        db.session.execute(db.select(Permit).where(Permit.registration_id == old.id, Permit.status.not_in(ENDED)))
        .scalars()
        .all()
    )
    for permit in permits:
        permit.registration_id = new.id
    db.session.flush()
    return _registration_summary(new) | {"previous": old.number, "permits_moved": len(permits)}


@operator("person.check_general", transactional=True)
def check_general_change(*, id_number: str, name: str, request: dict) -> dict[str, Any]:
    """The person's current general information (the clerk's form starts from it); NOTHING_TO_CHANGE if equal."""
    person = find_person(id_number, name)
    current = {f: getattr(person, f) for f in GENERAL_FIELDS}
    if not any(request.get(f) not in (None, "", current[f]) for f in GENERAL_FIELDS):
        raise HandlerError("NOTHING_TO_CHANGE", "申请的信息与现有登记信息相同，无需变更")
    return current


@operator("person.update_general", transactional=True)
def update_general(*, id_number: str, changes: dict) -> dict[str, Any]:
    """Apply the general information the clerk confirmed."""
    person = find_person(id_number)
    changed = {}
    for field in GENERAL_FIELDS:
        value = changes.get(field)
        if value not in (None, "") and value != getattr(person, field):
            changed[field] = value
            setattr(person, field, value)
    if not changed:
        raise HandlerError("NOTHING_TO_CHANGE", "确认的信息与现有登记信息相同，无需变更")
    person.updated_at = utcnow()
    return {"changed": sorted(changed)}


def _identity_changes(person: Person, request: dict) -> dict[str, Any]:
    changes = {}
    for key, field in IDENTITY_FIELDS.items():
        value = request.get(key)
        if value in (None, ""):
            continue
        if field == "birth_date":
            value = date.fromisoformat(value)
        if value != getattr(person, field):
            changes[field] = value
    return changes


@operator("identity.check", transactional=True)
def check_identity_change(*, id_number: str, name: str, request: dict) -> dict[str, Any]:
    """Refuse an identity change that changes nothing; the fields it changes otherwise."""
    person = find_person(id_number, name)
    changes = _identity_changes(person, request)
    if not changes:
        raise HandlerError("NOTHING_TO_CHANGE", "申请的身份信息与现有登记信息相同，无需变更")
    permit = current_permit(person.id)
    return {"fields": sorted(changes), "new_card": permit is not None and permit.status in CARD_HOLDING}


@operator("identity.apply", transactional=True)
def apply_identity_change(*, id_number: str, request: dict) -> dict[str, Any]:
    """Change the person record; a permit with a card gets a new card (voided and replaced, same validity)."""
    person = find_person(id_number)
    changes = _identity_changes(person, request)
    if not changes:
        raise HandlerError("NOTHING_TO_CHANGE", "申请的身份信息与现有登记信息相同，无需变更")
    for field, value in changes.items():
        setattr(person, field, value)
    person.updated_at = utcnow()
    permit = current_permit(person.id)
    new = request_new_card(permit) if permit is not None and permit.status in CARD_HOLDING else None
    return {"changed": sorted(changes), "new_permit": summary(new)}


@operator("records.query", transactional=True)
def query_records(*, id_number: str, name: str = "") -> dict[str, Any]:
    """A person's current registration and permit for a channel, ID number masked; found=False if none on record."""
    person = require_intact(
        db.session.execute(db.select(Person).where(Person.id_number == id_number)).scalar_one_or_none()
    )
    # A wrong name answers like an unknown person: a query must not confirm whose number it is.
    if person is None or (name and person.name != name):
        return {"found": False, "id_number": mask(id_number)}
    return {
        "found": True,
        "id_number": mask(person.id_number),
        "name": person.name,
        "registration": _registration_summary(active_registration(person.id)),
        "permit": summary(current_permit(person.id)),
    }
