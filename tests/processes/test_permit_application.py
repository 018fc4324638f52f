"""A6 new permit with expanded eligibility (A1): every path of permit_application.bpmn and every DMN row."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import db
from models.domain import Permit, Person
from tests.processes.permit_support import (
    act,
    apply,
    approve_through,
    card_person,
    count,
    permit_row,
    run_batch,
    seed_registration,
    sms_templates_sent,
)
from tests.support import instance_row, person

# (row, housing legality, HRSS profile, registration months, decision, risk, words in the reason)
DMN_ROWS = [
    (1, "legal", "exactly5", 3, "refuse", False, "居住登记满6个月后再申办"),
    (2, "legal", "long", 1, "pass", False, "扩围"),
    (3, "legal", "exactly5", 7, "pass", False, "原条件"),
    (4, None, "long", 1, "review", True, "无法核实合法稳定居所"),
    (5, None, "exactly5", 7, "review", True, "居住登记满6个月"),
    (6, "illegal", "exactly6", 0, "review", True, "违法建筑，须中心复核（社保满6个月）"),
    (7, "illegal", "none", 8, "review", True, "违法建筑，须中心复核（居住登记满6个月）"),
]


@pytest.mark.parametrize(("row", "legality", "profile", "months", "decision", "risk", "reason"), DMN_ROWS)
def test_a6_residence_check_dmn_row(permit_app, drain, row, legality, profile, months, decision, risk, reason):
    p = person(profile, nth=row)
    seed_registration(permit_app, p, months=months, legality=legality)
    public_id = apply(permit_app, drain, p)
    result = instance_row(permit_app, public_id).result
    assert (result["residence_decision"], result["residence_risk"]) == (decision, risk)
    assert reason in result["residence_reason"]
    number = result["application"]["number"]
    if decision == "refuse":  # the original rule's guidance, and the application is voided
        assert instance_row(permit_app, public_id).status == "completed"
        assert result["refusal"]["code"] == "NOT_ELIGIBLE" and result["permit_status"] == "refused"
        assert permit_row(permit_app, number).status == "voided"
    else:
        assert permit_row(permit_app, number).status == "applying"
        act(permit_app, drain, public_id, "clerk", {"decision": "approve"}, "permit_review")


def test_a6_expanded_eligibility_counter_pickup_end_to_end(permit_app, drain):
    p = card_person("long", nth=1)
    seed_registration(permit_app, p, months=1, legality="legal")  # registered only a month: A1 waives the wait
    public_id = apply(permit_app, drain, p)
    approve_through(permit_app, drain, public_id, risk=False)  # no risk: level 1 is the last approval
    number = instance_row(permit_app, public_id).result["application"]["number"]
    permit = permit_row(permit_app, number)
    assert (permit.status, permit.card_status, permit.expanded_eligibility) == ("approved", "queued", True)
    batch = run_batch(permit_app, drain)
    assert batch.status == "completed" and batch.result["imported"] == {
        "batch_ref": batch.result["collected"]["batch_ref"],
        "made": 1,
        "failed": 0,
        "notified": 1,
    }
    assert permit_row(permit_app, number).card_status == "made"
    act(permit_app, drain, public_id, "clerk", {"identity_checked": True}, "permit_counter_issue")
    final = instance_row(permit_app, public_id)
    assert final.status == "completed" and final.result["permit_status"] == "issued"
    assert final.result["elicence_push"]["push_id"]
    permit = permit_row(permit_app, number)
    assert (permit.status, permit.card_status, permit.pickup) == ("issued", "delivered", "counter")
    assert sms_templates_sent(permit_app) == ["PRODUCTION_PROGRESS", "PRODUCTION_PROGRESS", "CARD_READY", "CARD_ISSUED"]


def test_a6_risk_goes_to_level2_with_returns_and_postal_issuance(permit_app, drain):
    p = card_person("long", nth=2)
    seed_registration(permit_app, p, months=2, legality="illegal")
    public_id = apply(permit_app, drain, p, delivery="post")
    act(permit_app, drain, public_id, "clerk", {"decision": "return", "comment": "请补充劳动合同"}, "permit_review")
    act(permit_app, drain, public_id, "applicant", {"note": "已上传劳动合同"}, "permit_supplement")
    act(permit_app, drain, public_id, "clerk", {"decision": "approve"})
    act(permit_app, drain, public_id, "approver_l1", {"decision": "return", "comment": "网点再核"})
    act(permit_app, drain, public_id, "clerk", {"decision": "approve"})
    act(permit_app, drain, public_id, "approver_l1", {"decision": "approve"})
    act(
        permit_app, drain, public_id, "approver_l2", {"decision": "return", "comment": "一级再核"}, "permit_approval_l2"
    )
    act(permit_app, drain, public_id, "approver_l1", {"decision": "approve"})
    act(permit_app, drain, public_id, "approver_l2", {"decision": "approve"})
    number = instance_row(permit_app, public_id).result["application"]["number"]
    assert permit_row(permit_app, number).status == "approved"
    run_batch(permit_app, drain)
    final = instance_row(permit_app, public_id)
    assert final.status == "completed" and final.result["shipment"]["waybill_no"]
    permit = permit_row(permit_app, number)
    assert (permit.status, permit.pickup, permit.waybill_no) == (
        "issued",
        "post",
        final.result["shipment"]["waybill_no"],
    )
    assert "CARD_READY" not in sms_templates_sent(permit_app)


@pytest.mark.parametrize("role", ["clerk", "approver_l1", "approver_l2"])
def test_a6_rejection_at_each_level_voids_the_application(permit_app, drain, role):
    p = card_person("long", nth=3)
    seed_registration(permit_app, p, months=2, legality=None)  # unknown housing: risk, so level 2 is reached
    public_id = apply(permit_app, drain, p)
    for step in ("clerk", "approver_l1", "approver_l2"):
        if step == role:
            act(permit_app, drain, public_id, step, {"decision": "reject", "comment": f"{step}不同意"})
            break
        act(permit_app, drain, public_id, step, {"decision": "approve"})
    final = instance_row(permit_app, public_id)
    assert final.status == "completed" and final.result["permit_status"] == "rejected"
    assert final.result["refusal"] == {"code": "REJECTED", "message": f"{role}不同意"}
    assert permit_row(permit_app, final.result["application"]["number"]).status == "voided"
    again = apply(permit_app, drain, p)  # a voided application does not block a new one
    assert instance_row(permit_app, again).result["application"]["ok"] is True


def test_a6_rare_name_card_fails_then_requeued_and_made(permit_app, drain):
    p = person("long", rare=True)
    seed_registration(permit_app, p, months=2, legality="legal")
    public_id = apply(permit_app, drain, p)
    approve_through(permit_app, drain, public_id, risk=False)
    first = run_batch(permit_app, drain)
    assert first.result["imported"]["failed"] == 1
    result = instance_row(permit_app, public_id).result
    assert result["card_result"]["outcome"] == "failed" and "生僻字" in result["card_result"]["reason"]
    number = result["application"]["number"]
    assert (permit_row(permit_app, number).status, permit_row(permit_app, number).card_status) == ("approved", "failed")
    act(
        permit_app,
        drain,
        public_id,
        "clerk",
        {"action": "requeue", "rare_chars_ready": True},
        "permit_production_failure",
    )
    assert permit_row(permit_app, number).rare_chars_ready is True
    run_batch(permit_app, drain)
    act(permit_app, drain, public_id, "clerk", {"identity_checked": True}, "permit_counter_issue")
    assert permit_row(permit_app, number).status == "issued"


def test_a6_card_that_cannot_be_made_is_voided(permit_app, drain):
    p = next(x for x in (card_person("exactly6", nth=n, card_ok=False) for n in range(9)) if not x.rare_name)
    seed_registration(permit_app, p, months=2, legality="legal")
    public_id = apply(permit_app, drain, p)
    approve_through(permit_app, drain, public_id, risk=False)
    run_batch(permit_app, drain)
    assert "照片" in instance_row(permit_app, public_id).result["card_result"]["reason"]
    act(permit_app, drain, public_id, "clerk", {"action": "void", "note": "照片无法重拍，作废"})
    final = instance_row(permit_app, public_id)
    assert final.status == "completed" and final.result["permit_status"] == "voided"
    assert permit_row(permit_app, final.result["application"]["number"]).status == "voided"


def test_a6_hrss_rejection_is_a_bpmn_error_that_closes_the_application(permit_app, drain):
    p = card_person("long", nth=4)
    seed_registration(permit_app, p, months=2)
    public_id = apply(permit_app, drain, p, name="错误姓名")
    final = instance_row(permit_app, public_id)
    assert final.status == "completed" and final.result["refusal"]["code"] == "HRSS_REJECTED"
    assert permit_row(permit_app, final.result["application"]["number"]).status == "voided"


def _refused(app, drain, p, code: str, **overrides) -> None:
    before = count(app, Permit)
    public_id = apply(app, drain, p, **overrides)
    final = instance_row(app, public_id)
    assert final.status == "completed", (final.status, final.waiting_on)
    assert final.result["permit_status"] == "refused"
    assert final.result["refusal"]["code"] == code and final.result["refusal"]["message"]
    assert count(app, Permit) == before  # a refused request changes nothing


def test_a6_no_permit_without_an_active_registration(permit_app, drain):
    _refused(permit_app, drain, card_person("long", nth=5), "NO_ACTIVE_REGISTRATION")


def test_a6_one_open_application_per_person(permit_app, drain):
    p = card_person("long", nth=6)
    seed_registration(permit_app, p, months=2)
    apply(permit_app, drain, p)
    _refused(permit_app, drain, p, "PERMIT_ALREADY_OPEN")


@pytest.mark.parametrize("status", ["lost", "cancelled"])
def test_a6_lost_or_cancelled_permit_needs_reissue_not_a_new_one(permit_app, drain, status):
    p = card_person("long", nth=7)
    seed_registration(permit_app, p, months=2)
    apply(permit_app, drain, p)
    with permit_app.app_context():
        db.session.execute(select(Permit).where(Permit.status == "applying")).scalar_one().status = status
        db.session.commit()
    _refused(permit_app, drain, p, "PERMIT_NEEDS_REISSUE")


def test_a6_deceased_person_and_missing_photo_are_refused(permit_app, drain):
    dead, no_photo = card_person("long", nth=8), card_person("long", nth=9)
    seed_registration(permit_app, dead, months=2)
    seed_registration(permit_app, no_photo, months=2, photos=0)
    with permit_app.app_context():
        db.session.execute(select(Person).where(Person.id_number == dead.id_number)).scalar_one().deceased = True
        db.session.commit()
    _refused(permit_app, drain, dead, "PERSON_DECEASED")
    _refused(permit_app, drain, no_photo, "MATERIAL_MISSING_PHOTO")
