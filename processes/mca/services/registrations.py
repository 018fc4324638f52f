"""B1.12-15: residence registration, its address moves, general and identity changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models import db
from models.domain import Photo, ResidenceRegistration
from processes.domain.registration_rules import latest_photo
from processes.mca.catalog import CallContext, interface
from processes.mca.services.changes import CHANGE_GENERAL, CHANGE_IDENTITY, MOVE
from processes.mca.services.common import (
    HISTORY_LIMIT,
    WHO,
    find_person,
    form,
    identity,
    photo_view,
    start,
    submissions,
)
from processes.mca.services.permits import WAIT


def _view(r: ResidenceRegistration) -> dict[str, Any]:
    return {
        "registration_number": r.number,
        "status": r.status,
        "address": r.address,
        "address_code": r.address_code,
        "district": r.district,
        "service_point": r.service_point,
        "channel": r.channel,
        "registered_on": r.registered_on.isoformat() if r.registered_on else None,
        "valid_until": r.valid_until.isoformat() if r.valid_until else None,
        "ended_at": r.ended_at.isoformat() if r.ended_at else None,
        "previous_number": None,
        "photo_id": r.photo_id,
    }


def registration_chain(person_id: int) -> list[dict[str, Any]]:
    """The person's registrations, newest first, each naming the one it superseded (a move's history)."""
    rows = list(
        db.session.execute(
            select(ResidenceRegistration)
            .where(ResidenceRegistration.person_id == person_id)
            .order_by(ResidenceRegistration.id.desc())
            .limit(HISTORY_LIMIT)
        ).scalars()
    )
    numbers = {r.id: r.number for r in rows}
    out = []
    for r in rows:
        view = _view(r)
        view["previous_number"] = numbers.get(r.previous_id) if r.previous_id else None
        out.append(view)
    return out


@interface("registration.query", 12, "居住登记：状态及历史查询", WHO)
def registration_query(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Every registration of the person and this channel's registration submissions."""
    person = find_person(data)
    return {
        "identity": identity(person),
        "registrations": registration_chain(person.id),
        "submissions": submissions(ctx, person.id_number, ("residence_registration",)),
    }


@interface("registration.photoQuery", 12, "居住登记：获取照片（仅最新一张，A4）", WHO)
def registration_photos(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """The person's most recent photo with its bytes (older photos stay on record, hidden)."""
    person = find_person(data)
    photo = latest_photo(person.id)
    return {"photos": [p for p in [photo_view(photo, True)] if p]}


@interface(
    "registration.submit",
    12,
    "居住登记：上传（提交）新登记",
    ("businessKey", *WHO, "mobile", "address", "reason"),
    ("addressCode", "servicePoint", *WAIT),
    writes=True,
)
def registration_submit(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Start a residence registration (A2: B1.17 validation, real-time HRSS check, housing check, review)."""
    mapping = {
        "idNumber": "id_number",
        "name": "name",
        "mobile": "mobile",
        "address": "address",
        "addressCode": "address_code",
        "servicePoint": "service_point",
        "reason": "reason",
    }
    return start(ctx, "residence_registration", data, form(data, mapping))


@interface("registrationMove.query", 13, "居住登记地址迁移：迁入迁出记录及照片", WHO)
def registration_moves(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Moves in and out: each registration that superseded another, with both districts and photos."""
    person = find_person(data)
    chain = registration_chain(person.id)
    by_number = {r["registration_number"]: r for r in chain}
    moves = []
    for r in chain:
        before = by_number.get(r["previous_number"]) if r["previous_number"] else None
        if before is None:
            continue
        photo = db.session.get(Photo, r["photo_id"]) if r["photo_id"] else None
        moves.append(
            {
                "moved_out_of": {
                    "registration_number": before["registration_number"],
                    "district": before["district"],
                    "address": before["address"],
                },
                "moved_into": {
                    "registration_number": r["registration_number"],
                    "district": r["district"],
                    "address": r["address"],
                },
                "registered_on": r["registered_on"],
                "photo": photo_view(photo),
            }
        )
    return {"moves": moves, "submissions": submissions(ctx, person.id_number, ("address_change",))}


@interface(
    "registrationMove.submit",
    13,
    "居住登记地址迁移：迁移申请",
    ("businessKey", *WHO, "newAddress", "newDistrict"),
    ("addressCode", "servicePoint", *WAIT),
    writes=True,
)
def registration_move(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Start an address change of the registration."""
    return start(ctx, "address_change", data, form(data, MOVE))


@interface("registrationGeneral.query", 14, "居住登记一般信息变更：变更记录", WHO)
def registration_general_query(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Current contact/employer information and this channel's general-change submissions."""
    person = find_person(data)
    return {
        "general": {
            "employer": person.employer,
            "education": person.education,
            "household_address": person.household_address,
        },
        "submissions": submissions(ctx, person.id_number, ("general_info_change",)),
    }


@interface(
    "registrationGeneral.submit",
    14,
    "居住登记一般信息变更：提交（联系方式、工作单位等；身份信息变更走审核）",
    ("businessKey", *WHO),
    ("mobile", "education", "employer", "householdAddress", *WAIT),
    writes=True,
)
def registration_general(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Start a general-information change."""
    return start(ctx, "general_info_change", data, form(data, CHANGE_GENERAL))


@interface("registrationIdentity.query", 15, "居住登记身份信息变更：查询", WHO)
def registration_identity_query(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Current identity and this channel's identity-change submissions."""
    person = find_person(data)
    return {
        "identity": identity(person),
        "household_address": person.household_address,
        "submissions": submissions(ctx, person.id_number, ("identity_info_change",)),
    }


@interface(
    "registrationIdentity.submit",
    15,
    "居住登记身份信息变更：提交（民族等，须审核）",
    ("businessKey", *WHO, "changeReason"),
    ("newName", "newGender", "newBirthDate", "newEthnicity", *WAIT),
    writes=True,
)
def registration_identity(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Start an identity-information change (level-1 review)."""
    return start(ctx, "identity_info_change", data, form(data, CHANGE_IDENTITY))
