"""A7 auto-endorsement: the daily run, the DMN rules (every row), automatic and clerk endorsement, state rules."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from handlers.registry import DispatchError, dispatch
from models import Incident, ProcessInstance, SmsMessage, db
from models.domain import Endorsement, Permit
from processes.instances import start_instance
from processes.sms import SmsOutbox
from processes.sms_templates import ensure_default_templates
from processes.stepping import Actor
from processes.tasks import complete_task
from processes.timer_jobs import claim_due_timers
from tests.processes.domain_factories import make_permit, today
from tests.support import clerk, ready_task

OPS = Actor(kind="ops", name="ops:test")


@pytest.fixture(autouse=True)
def _sms(ctx):
    """The reminder SMS goes through the B3 outbox (registered here until the platform registers it)."""
    platform = ctx.extensions["permitflow"]
    platform.clients.setdefault("sms_outbox", SmsOutbox(platform))
    ensure_default_templates()


def _sms(permit: Permit, template_code: str) -> list[SmsMessage]:
    return (
        db.session.execute(
            select(SmsMessage).where(
                SmsMessage.business_key == f"EN-{permit.number}", SmsMessage.template_code == template_code
            )
        )
        .scalars()
        .all()
    )


def _reminders(permit: Permit) -> list[SmsMessage]:
    return _sms(permit, "ENDORSE_REMIND")


def _done_sms(permit: Permit) -> list[SmsMessage]:
    return _sms(permit, "ENDORSE_DONE")


def _endorse(ctx, drain, permit: Permit) -> ProcessInstance:
    platform = ctx.extensions["permitflow"]
    instance, _ = start_instance(
        platform, "auto_endorsement", f"EN-{permit.number}", {"permit_number": permit.number}, OPS
    )
    drain()
    db.session.rollback()
    return db.session.get(ProcessInstance, instance.id)


def _permit(number: str) -> Permit:
    db.session.rollback()
    return db.session.execute(select(Permit).where(Permit.number == number)).scalar_one()


def _endorsements(permit: Permit) -> list[Endorsement]:
    return db.session.execute(select(Endorsement).where(Endorsement.permit_id == permit.id)).scalars().all()


def _clerk_decides(ctx, drain, instance: ProcessInstance, data: dict) -> ProcessInstance:
    task = ready_task(ctx, instance.public_id)
    assert task.form_key == "endorsement_review"
    complete_task(ctx.extensions["permitflow"], task.id, data, clerk())
    drain()
    db.session.rollback()
    return db.session.get(ProcessInstance, instance.id)


def test_a7_rules_pass_endorses_automatically_for_one_more_year(ctx, drain):
    permit = make_permit("long")
    old_until = permit.valid_until
    instance = _endorse(ctx, drain, permit)
    assert instance.status == "completed", instance.waiting_on
    assert instance.result["endorsement_decision"] == "endorse" and instance.result["endorsement_reasons"] == []
    assert instance.result["endorsement_status"] == "endorsed" and _reminders(permit) == []
    row = _permit(permit.number)
    assert row.valid_until == old_until.replace(year=old_until.year + 1)
    [endorsement] = _endorsements(row)
    assert (endorsement.kind, endorsement.decided_by, endorsement.valid_until) == ("auto", "system", row.valid_until)


@pytest.mark.parametrize(
    ("factory", "reason"),
    [
        ({"deceased": True}, "持证人已登记死亡"),  # DMN row 1
        ({"status": "lost"}, "居住证已挂失或注销，不能自动签注"),  # DMN row 2
        ({"paused": True}, "居住证处于暂停状态"),  # DMN row 3
        ({"registration_status": "deregistered"}, "居住登记已失效或已注销"),  # DMN row 4
        ({"profile": "exactly5"}, "本市社保连续缴纳不足6个月"),  # DMN row 5
    ],
)
def test_a7_each_dmn_row_sends_the_permit_to_a_clerk_with_its_reason(ctx, drain, factory, reason):
    permit = make_permit(**factory)
    instance = _endorse(ctx, drain, permit)
    assert instance.status == "waiting"
    assert instance.result["endorsement_decision"] == "review"
    assert instance.result["endorsement_reasons"] == [reason]
    task = ready_task(ctx, instance.public_id)
    assert task.role == "clerk" and task.due_at is not None
    assert _endorsements(_permit(permit.number)) == []
    # The holder is reminded to come and endorse before expiry; never a deceased person.
    reminders = _reminders(permit)
    if factory.get("deceased"):
        assert reminders == [] and "reminder_sms" not in instance.result
    else:
        [sms] = reminders
        assert sms.template_code == "ENDORSE_REMIND" and permit.valid_until.isoformat() in sms.body


def test_a7_collect_hit_policy_lists_every_failed_rule(ctx, drain):
    permit = make_permit("none", paused=True)
    instance = _endorse(ctx, drain, permit)
    assert instance.result["endorsement_reasons"] == ["居住证处于暂停状态", "本市社保连续缴纳不足6个月"]


def test_a7_clerk_endorses_after_review(ctx, drain):
    permit = make_permit("exactly5")
    instance = _clerk_decides(ctx, drain, _endorse(ctx, drain, permit), {"decision": "endorse", "comment": "已补缴"})
    assert instance.status == "completed" and instance.result["endorsement_status"] == "endorsed"
    [endorsement] = _endorsements(_permit(permit.number))
    assert endorsement.kind == "counter" and endorsement.reasons == ["本市社保连续缴纳不足6个月", "已补缴"]


def test_a7_clerk_refuses_and_nothing_changes(ctx, drain):
    permit = make_permit("gap")
    until = permit.valid_until
    instance = _endorse(ctx, drain, permit)
    assert instance.result["endorsement_reasons"] == ["本市社保连续缴纳不足6个月"]  # a gap breaks continuity
    instance = _clerk_decides(ctx, drain, instance, {"decision": "refuse", "comment": "社保中断"})
    assert instance.status == "completed" and instance.result["endorsement_status"] == "refused"
    assert _permit(permit.number).valid_until == until and _endorsements(_permit(permit.number)) == []


@pytest.mark.parametrize("status", ["lost", "cancelled"])
def test_a7_clerk_cannot_endorse_a_lost_or_cancelled_permit(ctx, drain, status):
    permit = make_permit("long", status=status)
    until = permit.valid_until
    instance = _clerk_decides(ctx, drain, _endorse(ctx, drain, permit), {"decision": "endorse"})
    # The state rule's error is caught by the boundary event (PERMIT_LOST / PERMIT_CANCELLED): refused, no row.
    assert instance.status == "completed" and instance.result["endorsement_status"] == "refused"
    assert _permit(permit.number).valid_until == until and _endorsements(_permit(permit.number)) == []


@pytest.mark.parametrize(
    ("factory", "code"),
    [
        ({"status": "lost"}, "PERMIT_LOST"),
        ({"status": "cancelled"}, "PERMIT_CANCELLED"),
        ({"status": "voided"}, "PERMIT_VOIDED"),
        ({"status": "producing"}, "PERMIT_NOT_ISSUED"),
        ({"deceased": True}, "PERSON_DECEASED"),
        ({"paused": True}, "PERMIT_PAUSED"),
        ({"due_in_days": -1}, "PERMIT_EXPIRED"),
    ],
)
def test_a7_state_rules_refuse_with_a_specific_error_and_change_nothing(ctx, factory, code):
    permit = make_permit(**factory)
    until = permit.valid_until
    params = {"permit_number": permit.number, "as_of": today().isoformat(), "kind": "counter", "decided_by": "t"}
    with pytest.raises(DispatchError) as refused:
        dispatch("endorsement.endorse", params, {})
    db.session.rollback()
    assert refused.value.code == code and not refused.value.transient
    assert _permit(permit.number).valid_until == until and _endorsements(_permit(permit.number)) == []


def test_a7_unknown_permit_is_an_incident(ctx, drain):
    instance, _ = start_instance(
        ctx.extensions["permitflow"], "auto_endorsement", "EN-NONE", {"permit_number": "JZZ-NONE"}, OPS
    )
    drain()
    db.session.rollback()
    incident = db.session.execute(select(Incident).where(Incident.instance_id == instance.id)).scalar_one()
    assert incident.error_code == "PERMIT_NOT_FOUND"


def test_a7_daily_run_starts_due_permits_in_bounded_batches_and_again_next_day(ctx, drain):
    due = [make_permit("long", n, due_in_days=5 + n) for n in range(3)]
    lost = make_permit("exactly6", 0, status="lost", due_in_days=20)
    make_permit("exactly6", 1, status="cancelled", due_in_days=20)  # never selected
    make_permit("exactly6", 2, due_in_days=60)  # not yet due
    make_permit("exactly6", 3, due_in_days=-3)  # expired: A3, not endorsement
    platform = ctx.extensions["permitflow"]
    run, _ = start_instance(
        platform, "endorsement_schedule", "ENDORSE-DAILY", {"within_days": 30, "batch_size": 2, "interval": "PT1S"}, OPS
    )
    run_id = run.id
    drain()
    db.session.rollback()
    run = db.session.get(ProcessInstance, run_id)
    assert run.status == "waiting" and [w["kind"] for w in run.waiting_on] == ["timer"]
    started = (
        db.session.execute(select(ProcessInstance).where(ProcessInstance.process_key == "auto_endorsement"))
        .scalars()
        .all()
    )
    assert sorted(i.business_key for i in started) == sorted(
        f"EN-{p.number}-{p.valid_until:%Y%m%d}" for p in [*due, lost]
    )
    for permit in due:
        [endorsement] = _endorsements(_permit(permit.number))
        assert endorsement.kind == "auto"
    # The next day's run starts nothing twice (the permits carry the validity they were started for).
    assert db.session.get(ProcessInstance, run_id).result["last_run"]["started"] == 0  # the third pass
    make_permit("exactly6", 4, due_in_days=25)  # became due since
    time.sleep(1.1)
    assert claim_due_timers(platform) == 1
    drain()
    db.session.rollback()
    # Later passes may already have run within drain() (PT1S); exactly one new permit must have been started.
    assert (
        len(
            db.session.execute(select(ProcessInstance).where(ProcessInstance.process_key == "auto_endorsement"))
            .scalars()
            .all()
        )
        == 5
    )


# -- B3: "endorsement done" SMS after an automatic or a clerk endorsement ---------------------------------


def test_b3_automatic_endorsement_sends_the_endorsement_done_sms(ctx, drain):
    permit = make_permit("long")
    instance = _endorse(ctx, drain, permit)
    assert instance.status == "completed" and instance.result["endorsed_sms"]["status"] == "queued"
    [sms] = _done_sms(permit)
    new_until = _permit(permit.number).valid_until
    assert sms.status in ("queued", "sent", "delivered") and new_until.isoformat() in sms.body
    assert permit.valid_until < new_until
    assert _reminders(permit) == []  # endorsed automatically: no reminder to come in


def test_b3_clerk_endorsement_sends_the_sms_and_a_refusal_does_not(ctx, drain):
    permit = make_permit("exactly5")
    instance = _clerk_decides(ctx, drain, _endorse(ctx, drain, permit), {"decision": "endorse"})
    assert instance.result["endorsement_status"] == "endorsed"
    [sms] = _done_sms(permit)
    assert _permit(permit.number).valid_until.isoformat() in sms.body
    refused = make_permit("exactly5", 1)
    instance = _clerk_decides(ctx, drain, _endorse(ctx, drain, refused), {"decision": "refuse", "comment": "社保中断"})
    assert instance.result["endorsement_status"] == "refused" and _done_sms(refused) == []


def test_b3_endorsed_holder_without_a_mobile_gets_no_sms(ctx, drain):
    from models.domain import Person

    permit = make_permit("long", 2)
    db.session.get(Person, permit.person_id).mobile = None
    db.session.commit()
    instance = _endorse(ctx, drain, permit)
    assert instance.status == "completed" and instance.result["endorsement_status"] == "endorsed"
    assert _done_sms(permit) == [] and "endorsed_sms" not in instance.result
