"""C1.1 and the generic change-request process: approval, rejection, two levels, withdrawal, four-eyes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import HumanTask
from processes.errors import Forbidden, ValidationFailed
from tests.processes.change_factories import make_holder, person_row
from tests.processes.change_request_support import (
    APPROVER_L1,
    OPERATOR,
    approval_task,
    clean_change_tables,  # noqa: F401  (autouse fixture)
    decide,
    request_row,
    submit,
)

NEW_ADDRESS = "江苏省南通市崇川区人民路1号"


def _contact(holder, **extra):
    return {"id_number": holder.id_number, "name": holder.name, **extra}


def test_c1_1_contact_change_applies_after_level1_approval(app, drain):
    holder = make_holder(app, "issued")
    number = submit(
        app, "person_contact", _contact(holder, new_household_address=NEW_ADDRESS, new_mobile="13911112222")
    )
    row = request_row(app, number)
    assert (row.status, row.levels, row.before) == (
        "pending",
        1,
        {"household_address": None, "mobile": row.before["mobile"]},
    )
    assert person_row(app, holder.person_id).household_address is None  # nothing changes before approval
    decide(app, drain, number, 1)
    row = request_row(app, number)
    assert row.status == "applied"
    assert row.after == {"household_address": NEW_ADDRESS, "mobile": "13911112222"}
    assert row.decided_by == "approver1"
    person = person_row(app, holder.person_id)
    assert (person.household_address, person.mobile) == (NEW_ADDRESS, "13911112222")


def test_c1_1_contact_change_rejected_changes_nothing(app, drain):
    holder = make_holder(app, "issued")
    number = submit(app, "person_contact", _contact(holder, new_mobile="13911112222"))
    before = person_row(app, holder.person_id).mobile
    decide(app, drain, number, 1, "reject", "证明材料不足")
    row = request_row(app, number)
    assert (row.status, row.outcome_note, row.after) == ("rejected", "证明材料不足", {})
    assert person_row(app, holder.person_id).mobile == before


def test_c1_1_identity_change_needs_two_levels(app, drain):
    holder = make_holder(app, "issued")
    number = submit(app, "person_identity", _contact(holder, new_name="王小明", new_ethnicity="回族"))
    assert approval_task(app, number, 2) is None
    decide(app, drain, number, 1)
    assert request_row(app, number).status == "pending"
    assert person_row(app, holder.person_id).name == holder.name
    decide(app, drain, number, 2)
    row = request_row(app, number)
    assert row.status == "applied" and row.before == {"name": holder.name, "ethnicity": "汉族"}
    assert (person_row(app, holder.person_id).name, person_row(app, holder.person_id).ethnicity) == ("王小明", "回族")


def test_c1_1_identity_change_rejected_at_level2_changes_nothing(app, drain):
    holder = make_holder(app, "issued")
    number = submit(app, "person_identity", _contact(holder, new_name="王小明"))
    decide(app, drain, number, 1)
    decide(app, drain, number, 2, "reject", "户籍证明不符")
    assert request_row(app, number).status == "rejected"
    assert person_row(app, holder.person_id).name == holder.name


def test_c1_1_identity_check_refuses_a_wrong_name(app):
    holder = make_holder(app, "issued")
    with pytest.raises(ValidationFailed) as info:
        submit(app, "person_contact", {"id_number": holder.id_number, "name": "张冒名", "new_mobile": "13911112222"})
    assert info.value.code == "NAME_MISMATCH"


def test_c1_1_nothing_to_change_and_bad_fields_are_refused(app):
    holder = make_holder(app, "issued")
    with pytest.raises(ValidationFailed) as info:
        submit(app, "person_contact", _contact(holder))
    assert info.value.code == "NOTHING_TO_CHANGE"
    with pytest.raises(ValidationFailed) as info:
        submit(app, "person_contact", _contact(holder, new_mobile="12345"))
    assert "new_mobile" in info.value.details["fields"]


def test_a_change_made_meanwhile_fails_the_request_without_writing(app, drain):
    from models import db
    from models.domain import Person

    holder = make_holder(app, "issued")
    number = submit(app, "person_contact", _contact(holder, new_mobile="13911112222"))
    with app.app_context():
        db.session.get(Person, holder.person_id).mobile = "13800000000"  # changed by another business meanwhile
        db.session.commit()
    decide(app, drain, number, 1)
    row = request_row(app, number)
    assert row.status == "failed" and "已被其他业务修改" in row.outcome_note
    assert person_row(app, holder.person_id).mobile == "13800000000"


def test_withdrawn_request_changes_nothing_and_closes_its_task(app, drain):
    from processes.changes.service import withdraw

    holder = make_holder(app, "issued")
    number = submit(app, "person_contact", _contact(holder, new_mobile="13911112222"))
    with app.app_context():
        with pytest.raises(Forbidden):
            withdraw(app.extensions["permitflow"], APPROVER_L1, number)
        withdraw(app.extensions["permitflow"], OPERATOR, number, "提交有误")
    drain()
    assert request_row(app, number).status == "withdrawn"
    assert approval_task(app, number, 1) is None
    assert person_row(app, holder.person_id).mobile != "13911112222"


def test_four_eyes_submitter_cannot_approve(app):
    from processes import approvals
    from processes.stepping import Actor

    holder = make_holder(app, "issued")
    number = submit(app, "person_contact", _contact(holder, new_mobile="13911112222"))
    task = approval_task(app, number, 1)
    same_person = Actor(kind="user", name=OPERATOR.name, roles=("approver_l1",))
    with app.app_context(), pytest.raises(Forbidden) as info:
        approvals.decide(app.extensions["permitflow"], task.id, same_person, {1}, "approve", "自己批准")
    assert info.value.code == "FOUR_EYES"


def test_role_not_allowed_to_submit_is_refused(app):
    holder = make_holder(app, "issued")
    with pytest.raises(Forbidden):
        submit(app, "person_contact", _contact(holder, new_mobile="13911112222"), actor=APPROVER_L1)


def test_every_step_is_audited(app, drain):
    from models import AuditLog, db

    holder = make_holder(app, "issued")
    number = submit(app, "person_contact", _contact(holder, new_mobile="13911112222"))
    decide(app, drain, number, 1)
    with app.app_context():
        events = (
            db.session.execute(select(AuditLog.event).where(AuditLog.object_id == number).order_by(AuditLog.seq))
            .scalars()
            .all()
        )
    assert events == ["change.submit", "change.apply"]


def test_another_instance_naming_the_request_can_neither_apply_nor_close_it(app, drain):
    from models import ProcessInstance, db
    from tests.support import register_key

    holder = make_holder(app, "issued")
    number = submit(app, "person_contact", _contact(holder, new_mobile="13911112222"))
    row = request_row(app, number)
    key = register_key(app)
    forged = {
        "request_id": row.id,
        "number": number,
        "token": "0" * 32,
        "change_type": "person_contact",
        "type_label": "伪造",
        "levels": 1,
        "subject": "伪造",
        "summary": "伪造",
    }
    response = app.test_client().post(
        "/api/v1/processes/change_request/instances",
        headers={"X-Api-Key": key},
        json={"business_key": number, "data": forged},
    )
    assert response.status_code == 201
    drain()
    with app.app_context():
        rogue = db.session.execute(
            select(ProcessInstance).where(ProcessInstance.public_id == response.get_json()["id"])
        ).scalar_one()
        rogue_task = db.session.execute(
            select(HumanTask).where(HumanTask.instance_id == rogue.id, HumanTask.status == "ready")
        ).scalar_one()
        from processes import approvals

        approvals.decide(app.extensions["permitflow"], rogue_task.id, APPROVER_L1, {1}, "approve", "误批")
    drain()
    assert request_row(app, number).status == "pending"  # the forged instance failed, the request is untouched
    assert person_row(app, holder.person_id).mobile != "13911112222"


def test_registry_scopes_types_by_role_and_configures_levels():
    from processes.changes.registry import GROUPS, all_types, types_for_role

    types = all_types()
    assert len({t.code for t in types}) == len(types) == 20
    assert {t.group for t in types} == set(GROUPS)
    assert {t.levels for t in types} == {1, 2}
    assert all(t.levels == 2 for t in types if t.group in ("undo", "death_list"))
    assert types_for_role("data_operator") == types
    assert types_for_role("clerk") == [] and types_for_role("approver_l1") == []
