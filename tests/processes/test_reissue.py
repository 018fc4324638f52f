"""A0 permit businesses end to end through the channel API: reissue, report loss / cancel it, express production."""

from __future__ import annotations

import pytest

from tests.processes.change_factories import (
    CHANNELS,
    VALID_UNTIL,
    Holder,
    make_holder,
    permits_of,
    result,
    staff_complete,
    start,
    start_raw,
)

# permit_app: the test app with the SMS outbox and the B3 templates (an approved reissue sends an SMS).
from tests.support import person as sim_person


def _reissue(app, drain, holder, reissue_type: str, **overrides):
    data = {"id_number": holder.id_number, "name": holder.name, "reissue_type": reissue_type} | overrides
    return start(app, drain, "permit_reissue", data)


def _snapshot(app, holder) -> list[tuple]:
    return [(p.id, p.status, p.express, p.replaces_id, p.lost_reported_by) for p in permits_of(app, holder.person_id)]


@pytest.mark.parametrize(
    ("reissue_type", "status", "decision"),
    [
        ("loss", "issued", {}),
        ("loss", "lost", {}),
        ("lost_found", "lost", {}),
        ("damage", "issued", {"old_card_returned": True}),
    ],
)
def test_a0_reissue_voids_the_old_permit_and_queues_a_replacement(permit_app, drain, reissue_type, status, decision):
    app = permit_app
    holder = make_holder(app, status)
    body = _reissue(app, drain, holder, reissue_type)
    assert body["status"] == "waiting" and body["result"]["permit"]["status"] == status
    task = staff_complete(app, drain, body["id"], {"decision": "approve", **decision})
    assert task.form_key == "reissue_review" and task.role == "clerk"
    final = result(app, body["id"])
    assert final["status"] == "completed" and final["outcome"] == "approved"
    old, new = permits_of(app, holder.person_id)
    assert old.status == "voided"
    assert (new.status, new.card_status, new.replaces_id, new.express) == ("approved", "queued", old.id, False)
    assert (new.valid_from, new.valid_until, new.registration_id) == (old.valid_from, VALID_UNTIL, old.registration_id)
    assert final["new_permit"]["number"] == new.number and final["new_permit"]["replaces"] == old.number
    assert "notify" not in final["new_permit"] and "notify" not in final  # the mobile stays private
    [sms] = _sms(app)
    assert sms.template_code == "PRODUCTION_PROGRESS" and "补办已受理" in sms.body and sms.mobile


def _sms(app) -> list:
    from models import db
    from models.sms import SmsMessage

    with app.app_context():
        return db.session.execute(db.select(SmsMessage)).scalars().all()


def test_a0_reissue_for_a_person_without_mobile_sends_no_sms(app, drain):
    holder = make_holder(app, "issued")
    with app.app_context():
        from models import db
        from models.domain import Person

        db.session.get(Person, holder.person_id).mobile = None
        db.session.commit()
    body = _reissue(app, drain, holder, "loss")
    staff_complete(app, drain, body["id"], {"decision": "approve"})
    assert result(app, body["id"])["outcome"] == "approved"
    assert [p.status for p in permits_of(app, holder.person_id)] == ["voided", "approved"]
    assert _sms(app) == []


def test_a0_reissue_rejected_by_the_clerk_changes_nothing(app, drain):
    holder = make_holder(app, "issued")
    before = _snapshot(app, holder)
    body = _reissue(app, drain, holder, "loss")
    staff_complete(app, drain, body["id"], {"decision": "reject", "comment": "本人未到场"})
    final = result(app, body["id"])
    assert (final["outcome"], final["review_comment"]) == ("rejected", "本人未到场")
    assert _snapshot(app, holder) == before


def test_a0_damage_reissue_without_the_old_card_is_refused_at_apply(app, drain):
    holder = make_holder(app, "issued")
    before = _snapshot(app, holder)
    body = _reissue(app, drain, holder, "damage")
    staff_complete(app, drain, body["id"], {"decision": "approve", "old_card_returned": False})
    final = result(app, body["id"])
    assert final["status"] == "completed" and final["outcome"] == "refused"
    assert final["refusal"]["code"] == "OLD_CARD_NOT_RETURNED" and "交回原" in final["refusal"]["message"]
    assert _snapshot(app, holder) == before


@pytest.mark.parametrize(
    ("status", "reissue_type", "code"),
    [
        ("approved", "loss", "REISSUE_NOT_ALLOWED"),
        ("producing", "loss", "REISSUE_NOT_ALLOWED"),
        ("lost", "damage", "DAMAGE_NEEDS_CARD"),
        ("issued", "lost_found", "NOT_REPORTED_LOST"),
        ("cancelled", "loss", "NO_PERMIT"),
        (None, "loss", "NO_PERMIT"),
    ],
)
def test_a0_reissue_in_a_wrong_state_is_refused_before_review(app, drain, status, reissue_type, code):
    holder = make_holder(app, status)
    before = _snapshot(app, holder)
    body = _reissue(app, drain, holder, reissue_type)
    assert body["status"] == "completed" and body["result"]["outcome"] == "refused"
    assert body["result"]["refusal"]["code"] == code
    assert _snapshot(app, holder) == before


def test_a0_reissue_for_an_unknown_person_or_a_wrong_name_is_refused(app, drain):
    holder = make_holder(app, "issued")
    body = _reissue(app, drain, holder, "loss", name="张冒名")
    assert body["result"]["refusal"]["code"] == "NAME_MISMATCH"
    stranger = sim_person("long", 5)  # in the population but never registered here
    other = Holder(stranger.id_number, stranger.name, 0, None, None)
    body = _reissue(app, drain, other, "loss")
    assert body["result"]["refusal"]["code"] == "NO_RECORD"


def test_a0_reissue_without_a_type_is_a_form_error(app):
    holder = make_holder(app, "issued")
    response = start_raw(app, "permit_reissue", {"id_number": holder.id_number, "name": holder.name})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "FORM_INVALID" and "reissue_type" in body["details"]["fields"]
    assert [p.status for p in permits_of(app, holder.person_id)] == ["issued"]


def _loss(app, drain, holder, action: str, reporter: str | None = None, channel: str = "suishenban"):
    data = {
        "id_number": holder.id_number,
        "name": holder.name,
        "action": action,
        "reporter_id_number": reporter or holder.id_number,
    }
    return start(app, drain, "permit_loss_report", data, channel)


def test_a0_report_loss_then_cancel_it_by_the_same_person(app, drain):
    holder = make_holder(app, "issued")
    body = _loss(app, drain, holder, "report")
    assert (body["status"], body["result"]["outcome"], body["result"]["permit"]["status"]) == (
        "completed",
        "reported",
        "lost",
    )
    [permit] = permits_of(app, holder.person_id)
    assert permit.status == "lost" and permit.lost_reported_by == holder.id_number and permit.lost_at is not None
    body = _loss(app, drain, holder, "cancel")
    assert (body["result"]["outcome"], body["result"]["permit"]["status"]) == ("cancelled", "issued")
    [permit] = permits_of(app, holder.person_id)
    assert (permit.status, permit.lost_at, permit.lost_reported_by) == ("issued", None, None)


@pytest.mark.parametrize(
    ("status", "code"), [("lost", "ALREADY_LOST"), ("producing", "LOSS_NOT_ALLOWED"), ("cancelled", "NO_PERMIT")]
)
def test_a0_report_loss_in_a_wrong_state_is_refused(app, drain, status, code):
    holder = make_holder(app, status)
    before = _snapshot(app, holder)
    body = _loss(app, drain, holder, "report")
    assert (body["result"]["outcome"], body["result"]["refusal"]["code"]) == ("refused", code)
    assert _snapshot(app, holder) == before


def test_a0_cancel_loss_refusals_not_lost_other_person_and_after_reissue(permit_app, drain):
    app = permit_app
    holder = make_holder(app, "issued")
    assert _loss(app, drain, holder, "cancel")["result"]["refusal"]["code"] == "NOT_LOST"
    _loss(app, drain, holder, "report")
    stranger = make_holder(app, None, nth=1, registration=False)
    before = _snapshot(app, holder)
    body = _loss(app, drain, holder, "cancel", reporter=stranger.id_number)
    assert body["result"]["refusal"]["code"] == "LOSS_REPORTER_MISMATCH"
    assert _snapshot(app, holder) == before
    review = _reissue(app, drain, holder, "lost_found")
    staff_complete(app, drain, review["id"], {"decision": "approve"})
    before = _snapshot(app, holder)
    body = _loss(app, drain, holder, "cancel")
    assert body["result"]["refusal"]["code"] == "REISSUE_EXISTS" and "补办" in body["result"]["refusal"]["message"]
    assert _snapshot(app, holder) == before


def test_a0_report_loss_gives_the_same_result_on_every_channel(app, drain):
    outcomes = []
    for nth, channel in enumerate(CHANNELS):
        holder = make_holder(app, "issued", nth=nth)
        body = _loss(app, drain, holder, "report", channel=channel)
        outcomes.append((body["status"], body["result"]["outcome"], body["result"]["permit"]["status"]))
    assert outcomes == [("completed", "reported", "lost")] * 4


@pytest.mark.parametrize("status", ["approved", "producing"])
def test_a0_permit_in_production_switches_to_express(app, drain, status):
    holder = make_holder(app, status, card_status="queued")
    body = start(app, drain, "express_production", {"id_number": holder.id_number, "name": holder.name})
    assert (body["status"], body["result"]["outcome"], body["result"]["permit"]["express"]) == (
        "completed",
        "express",
        True,
    )
    [permit] = permits_of(app, holder.person_id)
    assert permit.express is True and permit.status == status


@pytest.mark.parametrize(
    ("status", "fields", "code"),
    [
        ("issued", {}, "EXPRESS_NOT_ALLOWED"),
        ("producing", {"card_status": "made"}, "EXPRESS_NOT_ALLOWED"),
        ("approved", {"express": True}, "ALREADY_EXPRESS"),
        (None, {}, "NO_PERMIT"),
    ],
)
def test_a0_express_is_refused_outside_production(app, drain, status, fields, code):
    holder = make_holder(app, status, **fields)
    before = _snapshot(app, holder)
    body = start(app, drain, "express_production", {"id_number": holder.id_number, "name": holder.name})
    assert (body["result"]["outcome"], body["result"]["refusal"]["code"]) == ("refused", code)
    assert _snapshot(app, holder) == before
