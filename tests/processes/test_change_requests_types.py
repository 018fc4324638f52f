"""Every change type of C1.1, C1.2, C2.1, C2.2 and C2.4 through approval, and through rejection (nothing changes)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from tests.processes.change_factories import make_holder, permits_of, person_row
from tests.processes.change_request_support import (
    OPERATOR,
    approval_task,
    approve_all,
    clean_change_tables,  # noqa: F401  (autouse fixture)
    decide,
    request_row,
    submit,
)
from tests.support import instance_row


def _with_photo(app, holder) -> None:
    from models import db, utcnow
    from models.domain import Permit, Photo

    with app.app_context():
        photo = Photo(
            person_id=holder.person_id,
            source="counter",
            sm3="a" * 64,
            size=10,
            mime="image/jpeg",
            storage_key="a" * 64,
            taken_at=utcnow(),
            review_status="passed",
        )
        db.session.add(photo)
        db.session.flush()
        db.session.get(Permit, holder.permit_id).photo_id = photo.id
        db.session.commit()


def _upload(app) -> str:
    from processes.files import upload_file

    with app.app_context():
        ref, _ = upload_file(b"\xff\xd8\xff" + secrets.token_bytes(64), "image/jpeg", OPERATOR, 1_000_000)
        return ref["id"]


def _library(app) -> dict[str, str]:
    from models import db
    from models.changes import RareCharacter

    with app.app_context():
        return dict(db.session.execute(select(RareCharacter.character, RareCharacter.status)).all())


def _add_char(app, char: str) -> None:
    from models import db
    from models.changes import RareCharacter

    with app.app_context():
        db.session.add(
            RareCharacter(
                character=char,
                codepoint=f"U+{ord(char):04X}",
                description="测试",
                status="active",
                request_number="BG-SEED",
            )
        )
        db.session.commit()


@dataclass
class Case:
    """A change type's scenario: records to make, the request's fields, and what approval must have done."""

    code: str
    setup: Callable[[Any], Any]
    fields: Callable[[Any, Any], dict[str, Any]]
    applied: Callable[[Any, Any], None]


def _permit_no(app, holder) -> str:
    return permits_of(app, holder.person_id)[0].number


def _holder(status: str, photo: bool = False, **permit_fields):
    def make(app):
        holder = make_holder(app, status, **permit_fields)
        if photo:
            _with_photo(app, holder)
        return holder

    return make


def _check_flags(app, holder) -> None:
    from models import db
    from models.domain import Photo

    [permit] = permits_of(app, holder.person_id)
    assert (permit.card_status, permit.express) == ("failed", True)
    with app.app_context():
        assert db.session.get(Photo, permit.photo_id).review_status == "failed"


def _check_reset(app, holder) -> None:
    old, new = permits_of(app, holder.person_id)
    assert (old.status, new.status, new.card_status, new.replaces_id) == ("voided", "approved", "queued", old.id)
    assert (new.valid_from, new.valid_until) == (old.valid_from, old.valid_until)


def _check_portrait(app, holder) -> None:
    from processes.domain.registration_rules import latest_photo

    with app.app_context():
        photo = latest_photo(holder.person_id)
        assert photo.source == "change"
    assert permits_of(app, holder.person_id)[0].photo_id == photo.id


def _check_sms(app, holder) -> None:
    from models import SmsMessage, db

    with app.app_context():
        [message] = db.session.execute(select(SmsMessage)).scalars().all()
        assert (message.template_code, message.status) == ("ENDORSE_REMIND", "queued") or message.status == "sent"


CASES = [
    Case(
        "person_portrait",
        _holder("issued", photo=True),
        lambda app, h: {"id_number": h.id_number, "name": h.name, "new_portrait": _upload(app)},
        _check_portrait,
    ),
    Case(
        "process_flags",
        _holder("approved", photo=True),
        lambda app, h: {
            "permit_number": _permit_no(app, h),
            "card_status": "failed",
            "photo_review": "failed",
            "express": "true",
        },
        _check_flags,
    ),
    Case(
        "production_express",
        _holder("approved"),
        lambda app, h: {"permit_number": _permit_no(app, h)},
        lambda app, h: permits_of(app, h.person_id)[0].express is True or pytest.fail("not express"),
    ),
    Case(
        "production_pause",
        _holder("approved"),
        lambda app, h: {"permit_number": _permit_no(app, h)},
        lambda app, h: permits_of(app, h.person_id)[0].production_paused is True or pytest.fail("not paused"),
    ),
    Case(
        "production_resume",
        _holder("approved", production_paused=True),
        lambda app, h: {"permit_number": _permit_no(app, h)},
        lambda app, h: permits_of(app, h.person_id)[0].production_paused is False or pytest.fail("still paused"),
    ),
    Case(
        "production_terminate",
        _holder("approved", production_paused=True),
        lambda app, h: {"permit_number": _permit_no(app, h)},
        lambda app, h: permits_of(app, h.person_id)[0].status == "voided" or pytest.fail("not voided"),
    ),
    Case("card_reset", _holder("issued"), lambda app, h: {"permit_number": _permit_no(app, h)}, _check_reset),
    Case(
        "rare_char_add",
        lambda app: None,
        lambda app, h: {"character": "䶮", "description": "上龙下天，读音yǎn"},
        lambda app, h: _library(app) == {"䶮": "active"} or pytest.fail(str(_library(app))),
    ),
    Case(
        "rare_char_retire",
        lambda app: _add_char(app, "堃"),
        lambda app, h: {"character": "堃"},
        lambda app, h: _library(app) == {"堃": "retired"} or pytest.fail(str(_library(app))),
    ),
    Case(
        "endorsement_reminder",
        _holder("issued"),
        lambda app, h: {"permit_number": _permit_no(app, h)},
        _check_sms,
    ),
    Case(
        "elicence_push",
        _holder("issued", photo=True),
        lambda app, h: {"permit_number": _permit_no(app, h)},
        lambda app, h: permits_of(app, h.person_id)[0].status == "issued" or pytest.fail("permit changed"),
    ),
    Case(
        "permit_handover",
        _holder("producing", card_status="made"),
        lambda app, h: {"permit_number": _permit_no(app, h)},
        lambda app, h: permits_of(app, h.person_id)[0].status == "issued" or pytest.fail("not issued"),
    ),
]


def _snapshot(app, holder) -> tuple:
    if holder is None:
        return (_library(app),)
    person = person_row(app, holder.person_id)
    permits = [
        (p.number, p.status, p.card_status, p.express, p.production_paused, p.photo_id)
        for p in permits_of(app, holder.person_id)
    ]
    return (person.name, person.mobile, permits, _library(app))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.code)
def test_change_type_applies_after_approval(app, drain, case):
    holder = case.setup(app)
    number = submit(app, case.code, case.fields(app, holder))
    approve_all(app, drain, number)
    row = request_row(app, number)
    assert row.status == "applied", row.outcome_note
    assert row.after
    case.applied(app, holder)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.code)
def test_change_type_rejected_changes_nothing(app, drain, case):
    holder = case.setup(app)
    before = _snapshot(app, holder)
    number = submit(app, case.code, case.fields(app, holder))
    levels = request_row(app, number).levels
    if levels == 2:
        decide(app, drain, number, 1)
    decide(app, drain, number, levels, "reject", "依据不足")
    assert request_row(app, number).status == "rejected"
    assert _snapshot(app, holder) == before


def test_c2_4_manual_elicence_push_goes_through_the_diagram(app, drain):
    holder = _holder("issued", photo=True)(app)
    number = submit(app, "elicence_push", {"permit_number": _permit_no(app, holder)})
    approve_all(app, drain, number)
    row = request_row(app, number)
    assert row.status == "applied" and "push" not in row.after
    from models import ProcessInstance, db

    with app.app_context():
        public_id = db.session.get(ProcessInstance, row.instance_id).public_id
    instance = instance_row(app, public_id)
    assert instance.status == "completed" and instance.result["closed"]["pushed"]  # the library's push status


def test_c2_1_paused_permit_is_skipped_by_card_production(app, drain):
    from models import db
    from processes.domain.production import collect_batch

    holder = _holder("approved", photo=True)(app)
    number = submit(app, "production_pause", {"permit_number": _permit_no(app, holder)})
    approve_all(app, drain, number)
    with app.app_context():
        assert collect_batch(batch_ref="B-PAUSE")["count"] == 0
        db.session.rollback()


def test_c2_2_card_export_uses_the_rare_character_library(app, drain):
    from models import db
    from models.domain import Person
    from processes.domain.production import collect_batch

    holder = _holder("approved", photo=True)(app)
    with app.app_context():
        db.session.get(Person, holder.person_id).name = "李䶮"
        db.session.commit()
        [card] = collect_batch(batch_ref="B-RARE-1")["cards"]
        db.session.rollback()
    assert card["rare_chars_ready"] is False
    number = submit(app, "rare_char_add", {"character": "䶮", "description": "上龙下天"})
    approve_all(app, drain, number)
    with app.app_context():
        [card] = collect_batch(batch_ref="B-RARE-2")["cards"]
        db.session.rollback()
    assert card["rare_chars_ready"] is True


def test_c2_2_common_or_duplicate_characters_are_refused(app):
    from processes.errors import ValidationFailed

    _add_char(app, "堃")
    with pytest.raises(ValidationFailed) as info:
        submit(app, "rare_char_add", {"character": "堃", "description": "重复"})
    assert info.value.code == "CHARACTER_EXISTS"
    with pytest.raises(ValidationFailed) as info:
        submit(app, "rare_char_add", {"character": "1", "description": "不是汉字"})
    assert info.value.code == "CHARACTER_INVALID"


def test_level_two_types_wait_for_level_two(app, drain):
    holder = _holder("issued")(app)
    number = submit(app, "card_reset", {"permit_number": _permit_no(app, holder)})
    decide(app, drain, number, 1)
    assert approval_task(app, number, 2) is not None
    assert [p.status for p in permits_of(app, holder.person_id)] == ["issued"]
