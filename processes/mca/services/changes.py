"""B1.7-9: permit address move (status, materials, submit), general- and identity-information changes."""

from __future__ import annotations

from typing import Any

from models import db
from models.domain import Photo, ResidenceRegistration
from processes.mca.catalog import CallContext, interface
from processes.mca.services.common import WHO, find_person, form, identity, photo_view, start, submissions
from processes.mca.services.permits import WAIT, permit_of, registration_view

CHANGE_GENERAL = {
    "idNumber": "id_number",
    "name": "name",
    "mobile": "mobile",
    "education": "education",
    "employer": "employer",
    "householdAddress": "household_address",
}
CHANGE_IDENTITY = {
    "idNumber": "id_number",
    "name": "name",
    "newName": "new_name",
    "newGender": "new_gender",
    "newBirthDate": "new_birth_date",
    "newEthnicity": "new_ethnicity",
    "changeReason": "reason",
}
MOVE = {
    "idNumber": "id_number",
    "name": "name",
    "newAddress": "new_address",
    "newDistrict": "new_district",
    "addressCode": "address_code",
    "servicePoint": "service_point",
}


def _change_query(ctx: CallContext, data: dict[str, Any], process_key: str) -> dict[str, Any]:
    person = find_person(data)
    return {"identity": identity(person), "submissions": submissions(ctx, person.id_number, (process_key,))}


@interface("permitMove.query", 7, "居住证地址迁移：状态及历史", WHO)
def permit_move_query(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """The person's registrations (each move supersedes one) and this channel's move submissions."""
    from processes.mca.services.registrations import registration_chain

    person = find_person(data)
    return {
        "registrations": registration_chain(person.id),
        "submissions": submissions(ctx, person.id_number, ("address_change",)),
    }


@interface("permitMove.materialQuery", 7, "居住证地址迁移：获取材料（房屋、地址编码、照片）", WHO)
def permit_move_materials(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """The materials of the current registration the permit rests on."""
    person = find_person(data)
    permit = permit_of(person.id)
    r = db.session.get(ResidenceRegistration, permit.registration_id)
    photo = db.session.get(Photo, r.photo_id) if r is not None and r.photo_id else None
    return {
        "permit_number": permit.number,
        "registration": registration_view(permit.registration_id),
        "house_id": r.house_id if r else None,
        "address_code": r.address_code if r else None,
        "photo": photo_view(photo),
    }


@interface(
    "permitMove.submit",
    7,
    "居住证地址迁移：跨区迁移申请",
    ("businessKey", *WHO, "newAddress", "newDistrict"),
    ("addressCode", "servicePoint", *WAIT),
    writes=True,
)
def permit_move(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Start an address change (within or across districts)."""
    return start(ctx, "address_change", data, form(data, MOVE))


@interface("permitGeneral.query", 8, "居住证一般信息变更：变更记录", WHO)
def permit_general_query(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Current general information and this channel's general-change submissions."""
    result = _change_query(ctx, data, "general_info_change")
    person = find_person(data)
    result["general"] = {
        "education": person.education,
        "employer": person.employer,
        "household_address": person.household_address,
    }
    return result


@interface(
    "permitGeneral.submit",
    8,
    "居住证一般信息变更：提交（联系方式、文化程度等）",
    ("businessKey", *WHO),
    ("mobile", "education", "employer", "householdAddress", *WAIT),
    writes=True,
)
def permit_general(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Start a general-information change."""
    return start(ctx, "general_info_change", data, form(data, CHANGE_GENERAL))


@interface("permitIdentity.query", 9, "居住证身份信息变更：变更历史", WHO)
def permit_identity_query(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Current identity and this channel's identity-change submissions."""
    return _change_query(ctx, data, "identity_info_change")


@interface(
    "permitIdentity.submit",
    9,
    "居住证身份信息变更：提交（姓名、性别、出生日期等，须审核）",
    ("businessKey", *WHO, "changeReason"),
    ("newName", "newGender", "newBirthDate", "newEthnicity", *WAIT),
    writes=True,
)
def permit_identity(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Start an identity-information change (level-1 review)."""
    return start(ctx, "identity_info_change", data, form(data, CHANGE_IDENTITY))
