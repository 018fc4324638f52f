"""A0 information businesses end to end: address change, general and identity changes, information query."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from processes.errors import ValidationFailed
from tests.processes.change_factories import (
    CHANNELS,
    DISTRICT,
    make_holder,
    permits_of,
    person_row,
    registrations_of,
    result,
    staff_complete,
    start,
)
from tests.support import ADDRESS
from tests.support import person as sim_person

NEW_ADDRESS = "上海市浦东新区张杨路500号12楼"


def _address(app, drain, holder, district: str, address: str = NEW_ADDRESS):
    data = {
        "id_number": holder.id_number,
        "name": holder.name,
        "new_address": address,
        "new_district": district,
        "service_point": "PD07",
    }
    return start(app, drain, "address_change", data)


def _history(app, public_id: str, kind: str) -> list:
    from models import ProcessEvent, ProcessInstance, db

    with app.app_context():
        return (
            db.session.execute(
                select(ProcessEvent.details)
                .join(ProcessInstance, ProcessInstance.id == ProcessEvent.instance_id)
                .where(ProcessInstance.public_id == public_id, ProcessEvent.kind == kind)
            )
            .scalars()
            .all()
        )


@pytest.mark.parametrize(
    ("district", "task_spec"), [(DISTRICT, "Task_local_review"), ("浦东新区", "Task_receiving_review")]
)
def test_a0_address_change_supersedes_the_registration_and_moves_the_permit(app, drain, district, task_spec):
    holder = make_holder(app, "issued")
    body = _address(app, drain, holder, district)
    assert body["result"]["address_check"]["cross_district"] is (district != DISTRICT)
    task = staff_complete(app, drain, body["id"], {"decision": "approve"})
    assert task.task_spec == task_spec and task.form_key == "change_review"
    final = result(app, body["id"])
    assert (final["status"], final["outcome"]) == ("completed", "changed")
    old, new = registrations_of(app, holder.person_id)
    assert (old.status, old.address, old.ended_at is not None) == ("superseded", ADDRESS, True)
    assert (new.status, new.address, new.district, new.previous_id) == ("active", NEW_ADDRESS, district, old.id)
    assert (new.registered_on, new.valid_until, new.service_point) == (old.registered_on, old.valid_until, "PD07")
    assert final["registration"]["number"] == new.number and final["registration"]["previous"] == old.number
    [permit] = permits_of(app, holder.person_id)
    assert permit.registration_id == new.id


def test_a0_address_change_rejected_keeps_the_registration(app, drain):
    holder = make_holder(app, "issued")
    body = _address(app, drain, holder, "浦东新区")
    staff_complete(app, drain, body["id"], {"decision": "reject", "comment": "迁入地址无法核实"})
    final = result(app, body["id"])
    assert (final["outcome"], final["review_comment"]) == ("rejected", "迁入地址无法核实")
    [reg] = registrations_of(app, holder.person_id)
    assert (reg.status, reg.address) == ("active", ADDRESS)


@pytest.mark.parametrize(
    ("registration", "address", "code"),
    [(False, NEW_ADDRESS, "NO_ACTIVE_REGISTRATION"), (True, ADDRESS, "SAME_ADDRESS")],
)
def test_a0_address_change_refused_at_check(app, drain, registration, address, code):
    holder = make_holder(app, None, registration=registration)
    body = _address(app, drain, holder, DISTRICT, address)
    assert (body["status"], body["result"]["outcome"], body["result"]["refusal"]["code"]) == (
        "completed",
        "refused",
        code,
    )
    assert len(registrations_of(app, holder.person_id)) == (1 if registration else 0)


def test_a0_address_change_refused_at_apply_when_the_registration_ended_meanwhile(app, drain):
    holder = make_holder(app, "issued")
    body = _address(app, drain, holder, DISTRICT)
    with app.app_context():
        from models import db
        from models.domain import ResidenceRegistration

        db.session.get(ResidenceRegistration, holder.registration_id).status = "deregistered"
        db.session.commit()
    staff_complete(app, drain, body["id"], {"decision": "approve"})
    final = result(app, body["id"])
    assert (final["outcome"], final["refusal"]["code"]) == ("refused", "NO_ACTIVE_REGISTRATION")
    assert [r.status for r in registrations_of(app, holder.person_id)] == ["deregistered"]
    assert permits_of(app, holder.person_id)[0].registration_id == holder.registration_id


def _general(app, drain, holder, **changes):
    return start(app, drain, "general_info_change", {"id_number": holder.id_number, "name": holder.name, **changes})


def test_a0_general_change_applied_after_clerk_check_with_before_and_after_in_history(app, drain):
    holder = make_holder(app, "issued")
    body = _general(app, drain, holder, employer="上海新单位有限公司", education="postgraduate")
    assert body["status"] == "waiting"
    staff_complete(
        app,
        drain,
        body["id"],
        {"decision": "approve", "employer": "上海新单位有限公司", "education": "postgraduate", "mobile": "13900001111"},
    )
    final = result(app, body["id"])
    assert final["outcome"] == "changed" and final["general_change"]["changed"] == ["education", "employer", "mobile"]
    person = person_row(app, holder.person_id)
    assert (person.employer, person.education, person.mobile) == ("上海新单位有限公司", "postgraduate", "13900001111")
    [completed] = _history(app, body["id"], "task_completed")
    changes = completed["changes"]
    assert changes["employer"] == ["上海某科技有限公司", "上海新单位有限公司"]
    assert changes["education"] == ["bachelor", "postgraduate"]
    assert "*" in changes["mobile"][1]  # phones are masked in history


def test_a0_general_change_rejected_changes_nothing(app, drain):
    holder = make_holder(app, "issued")
    body = _general(app, drain, holder, employer="上海新单位有限公司")
    staff_complete(app, drain, body["id"], {"decision": "reject", "comment": "无劳动合同"})
    assert result(app, body["id"])["outcome"] == "rejected"
    assert person_row(app, holder.person_id).employer == "上海某科技有限公司"


def test_a0_general_change_with_nothing_new_is_refused_at_check_and_at_apply(app, drain):
    holder = make_holder(app, "issued")
    body = _general(app, drain, holder, employer="上海某科技有限公司")
    assert (body["result"]["outcome"], body["result"]["refusal"]["code"]) == ("refused", "NOTHING_TO_CHANGE")
    body = _general(app, drain, holder, employer="上海新单位有限公司")
    staff_complete(app, drain, body["id"], {"decision": "approve", "employer": "上海某科技有限公司"})
    final = result(app, body["id"])
    assert (final["outcome"], final["refusal"]["code"]) == ("refused", "NOTHING_TO_CHANGE")
    assert person_row(app, holder.person_id).employer == "上海某科技有限公司"


def _identity(app, drain, holder, **changes):
    data = {"id_number": holder.id_number, "name": holder.name, "reason": "公安机关已变更户籍信息", **changes}
    return start(app, drain, "identity_info_change", data)


def test_a0_identity_change_approved_at_level_1_changes_the_person_and_needs_a_new_card(app, drain):
    holder = make_holder(app, "issued")
    body = _identity(app, drain, holder, new_name="李新名", new_birth_date="1990-02-03", new_ethnicity="回族")
    assert body["result"]["identity_check"] == {"fields": ["birth_date", "ethnicity", "name"], "new_card": True}
    task = staff_complete(
        app, drain, body["id"], {"decision": "approve", "comment": "户籍证明齐全"}, role="approver_l1"
    )
    assert (task.form_key, task.approval_level) == ("change_identity_review", 1)
    final = result(app, body["id"])
    assert (final["outcome"], final["review_comment"]) == ("changed", "户籍证明齐全")
    person = person_row(app, holder.person_id)
    assert (person.name, person.birth_date, person.ethnicity, person.gender) == (
        "李新名",
        date(1990, 2, 3),
        "回族",
        "M",
    )
    old, new = permits_of(app, holder.person_id)
    assert (old.status, new.status, new.replaces_id, new.valid_until) == ("voided", "approved", old.id, old.valid_until)
    assert final["identity_change"]["new_permit"]["number"] == new.number


def test_a0_identity_change_while_the_card_is_in_production_needs_no_new_permit(app, drain):
    holder = make_holder(app, "producing")
    body = _identity(app, drain, holder, new_gender="F")
    staff_complete(app, drain, body["id"], {"decision": "approve", "comment": "核实无误"}, role="approver_l1")
    assert result(app, body["id"])["identity_change"] == {"changed": ["gender"], "new_permit": None}
    assert person_row(app, holder.person_id).gender == "F"
    assert [p.status for p in permits_of(app, holder.person_id)] == ["producing"]


def test_a0_identity_review_needs_a_reason_and_a_rejection_changes_nothing(app, drain):
    holder = make_holder(app, "issued")
    body = _identity(app, drain, holder, new_name="李新名")
    with pytest.raises(ValidationFailed):
        staff_complete(app, drain, body["id"], {"decision": "reject"}, role="approver_l1")
    staff_complete(app, drain, body["id"], {"decision": "reject", "comment": "证明材料不足"}, role="approver_l1")
    final = result(app, body["id"])
    assert (final["outcome"], final["review_comment"]) == ("rejected", "证明材料不足")
    assert person_row(app, holder.person_id).name == holder.name
    assert [p.status for p in permits_of(app, holder.person_id)] == ["issued"]


def test_a0_identity_change_with_nothing_new_is_refused_at_check_and_at_apply(app, drain):
    holder = make_holder(app, "issued")
    body = _identity(app, drain, holder, new_gender="M")
    assert body["result"]["refusal"]["code"] == "NOTHING_TO_CHANGE"
    body = _identity(app, drain, holder, new_gender="F")
    with app.app_context():
        from models import db
        from models.domain import Person

        db.session.get(Person, holder.person_id).gender = "F"  # changed by another business meanwhile
        db.session.commit()
    staff_complete(app, drain, body["id"], {"decision": "approve", "comment": "同意"}, role="approver_l1")
    final = result(app, body["id"])
    assert (final["outcome"], final["refusal"]["code"]) == ("refused", "NOTHING_TO_CHANGE")
    assert [p.status for p in permits_of(app, holder.person_id)] == ["issued"]


def test_a0_information_query_returns_masked_records_on_every_channel(app, drain):
    holder = make_holder(app, "issued")
    answers = []
    for channel in CHANNELS:
        body = start(app, drain, "information_query", {"id_number": holder.id_number, "name": holder.name}, channel)
        answers.append((body["status"], body["result"]["outcome"], body["result"]["query_result"]))
    assert len({repr(a) for a in answers}) == 1
    status, outcome, answer = answers[0]
    assert (status, outcome, answer["found"]) == ("completed", "found", True)
    assert answer["id_number"] != holder.id_number and "*" in answer["id_number"]
    assert holder.id_number not in repr(answer)
    assert answer["registration"]["status"] == "active" and answer["registration"]["address"] == ADDRESS
    assert (answer["permit"]["status"], answer["permit"]["valid_until"]) == ("issued", "2027-01-10")


@pytest.mark.parametrize("known", [False, True])
def test_a0_information_query_for_an_unknown_person_or_wrong_name_has_no_record(app, drain, known):
    if known:
        holder = make_holder(app, "issued")
        data = {"id_number": holder.id_number, "name": "别人"}
    else:
        p = sim_person("long", 6)
        data = {"id_number": p.id_number, "name": p.name}
    body = start(app, drain, "information_query", data)
    assert (body["status"], body["result"]["outcome"], body["result"]["query_result"]["found"]) == (
        "completed",
        "no_record",
        False,
    )
    assert "registration" not in body["result"]["query_result"]
