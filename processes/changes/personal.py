"""C1.1 personal information: household address, mobile, name, ethnicity and portrait, with identity check."""

from __future__ import annotations

from typing import Any

from handlers.registry import HandlerError
from models import db, utcnow
from models.domain import Photo
from processes.changes.common import (
    ID_FIELD,
    NAME_FIELD,
    checked_person,
    need_one,
    plain,
    require_unchanged,
    who,
)
from processes.changes.registry import ChangeType, Prepared, form, register
from processes.domain.registration_rules import latest_photo
from processes.domain.reissue import current_permit

CONTACT = {"new_household_address": "household_address", "new_mobile": "mobile"}
IDENTITY = {"new_name": "name", "new_ethnicity": "ethnicity"}


def _prepare_fields(mapping: dict[str, str], fields: dict[str, Any]) -> Prepared:
    need_one(fields, tuple(mapping), "请至少填写一项需要修改的内容")
    person = checked_person(fields)
    proposed = {column: fields[key] for key, column in mapping.items() if fields.get(key) not in (None, "")}
    before = {column: plain(getattr(person, column)) for column in proposed}
    if all(before[c] == v for c, v in proposed.items()):
        raise HandlerError("NOTHING_TO_CHANGE", "修改后的内容与现有登记信息相同，无需修改")
    return Prepared(who(person), None, person.id, before, proposed)


def _apply_fields(mapping: dict[str, str], fields: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    person = checked_person({"id_number": fields["id_number"], "name": fields["name"]})
    require_unchanged({c: getattr(person, c) for c in before}, before)
    after = {}
    for key, column in mapping.items():
        if fields.get(key) not in (None, ""):
            setattr(person, column, fields[key])
            after[column] = fields[key]
    person.updated_at = utcnow()
    return after


def _prepare_portrait(fields: dict[str, Any]) -> Prepared:
    person = checked_person(fields)
    photo = latest_photo(person.id)
    before = {"photo_sm3": photo.sm3 if photo else None}
    if before["photo_sm3"] == fields["new_portrait"]["sm3"]:
        raise HandlerError("NOTHING_TO_CHANGE", "上传的照片与现有照片相同，无需修改")
    return Prepared(who(person), None, person.id, before, {"photo_sm3": fields["new_portrait"]["sm3"]})


def _apply_portrait(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    person = checked_person(fields)
    photo = latest_photo(person.id)
    require_unchanged({"photo_sm3": photo.sm3 if photo else None}, before)
    ref = fields["new_portrait"]
    # A new photo row (A4: the latest is used, history kept); the current permit's card uses it from now on.
    row = Photo(
        person_id=person.id,
        source="change",
        sm3=ref["sm3"],
        size=int(ref["size"]),
        mime=ref["mime"],
        storage_key=ref["sm3"],
        taken_at=utcnow(),
        review_status="passed",
        review_reasons=[f"数据修改 {number}"],
    )
    db.session.add(row)
    db.session.flush()
    permit = current_permit(person.id)
    if permit is not None:
        permit.photo_id = row.id
    return {"photo_sm3": ref["sm3"], "photo_id": row.id, "permit": permit.number if permit else None}


register(
    ChangeType(
        code="person_contact",
        label="户籍地址、手机号码修改",
        group="personal",
        levels=1,
        form=form(
            "person_contact",
            "户籍地址、手机号码修改",
            [
                ID_FIELD,
                NAME_FIELD,
                {"name": "new_household_address", "label": "新户籍地址", "type": "string", "max_length": 200},
                {"name": "new_mobile", "label": "新手机号码", "type": "mobile"},
            ],
        ),
        prepare=lambda f: _prepare_fields(CONTACT, f),
        apply=lambda f, b, n: _apply_fields(CONTACT, f, b),
        description="核验身份后修改户籍地址或手机号码，一级审核。",
    )
)

register(
    ChangeType(
        code="person_identity",
        label="姓名、民族修改",
        group="personal",
        levels=2,
        form=form(
            "person_identity",
            "姓名、民族修改",
            [
                ID_FIELD,
                NAME_FIELD,
                {"name": "new_name", "label": "更正后姓名", "type": "string", "max_length": 30},
                {"name": "new_ethnicity", "label": "更正后民族", "type": "string", "max_length": 20},
            ],
        ),
        prepare=lambda f: _prepare_fields(IDENTITY, f),
        apply=lambda f, b, n: _apply_fields(IDENTITY, f, b),
        description="核验身份后更正姓名或民族，一级审核后二级复核。已制卡的证件如需重制，请另行申请错证重置。",
    )
)

register(
    ChangeType(
        code="person_portrait",
        label="人像照片修改",
        group="personal",
        levels=1,
        form=form(
            "person_portrait",
            "人像照片修改",
            [
                ID_FIELD,
                NAME_FIELD,
                {"name": "new_portrait", "label": "新人像照片", "type": "file", "required": True},
            ],
        ),
        prepare=_prepare_portrait,
        apply=_apply_portrait,
        description="核验身份后更换人像照片（历史照片保留），当前居住证改用新照片。",
    )
)
