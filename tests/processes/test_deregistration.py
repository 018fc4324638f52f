"""A3 deregistration: on a channel's request, and detected by the daily sweep (death list, expiry, supersession)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from handlers.registry import dispatch
from integrations.simulators.dataset import population
from models import ProcessInstance, SmsMessage, db
from models.domain import Deregistration, Person, ResidenceRegistration
from processes.instances import start_instance
from processes.stepping import Actor
from processes.timer_jobs import claim_due_timers
from tests.processes.domain_factories import make_person, make_registration, today
from tests.support import ADDRESS, register_key
from tests.support import person as sim_person

OPS = Actor(kind="ops", name="ops:test")


def _registration(number: str) -> ResidenceRegistration:
    db.session.rollback()
    return db.session.execute(select(ResidenceRegistration).where(ResidenceRegistration.number == number)).scalar_one()


def _deregistration(registration: ResidenceRegistration) -> Deregistration | None:
    return db.session.execute(
        select(Deregistration).where(Deregistration.registration_id == registration.id)
    ).scalar_one_or_none()


def _request(app, drain, number: str, reason: str = "request") -> dict:
    client = app.test_client()
    key = register_key(app)
    response = client.post(
        "/api/v1/processes/registration_deregistration/instances",
        headers={"X-Api-Key": key},
        json={"business_key": f"DR-{number}", "data": {"registration_number": number, "reason": reason}},
    )
    assert response.status_code == 201, response.get_json()
    drain()
    return client.get(f"/api/v1/instances/{response.get_json()['id']}", headers={"X-Api-Key": key}).get_json()


def test_a3_channel_request_deregisters_and_notifies_the_departments(app, ctx, drain):
    number = make_registration(make_person("long")).number
    db.session.commit()
    body = _request(app, drain, number)
    assert body["status"] == "completed", body
    assert body["result"]["deregistration_status"] == "deregistered"
    assert body["result"]["notified"] == {"notified": ["mca3"]}
    registration = _registration(number)
    row = _deregistration(registration)
    assert registration.status == "deregistered" and registration.ended_at is not None
    assert (row.reason, row.source, row.status) == ("request", "channel", "notified")
    assert row.notified[0]["department"] == "mca3" and row.notified[0]["receipt_no"]


def test_a3_inactive_registration_is_refused_and_nothing_changes(app, ctx, drain):
    number = make_registration(make_person("long"), status="rejected").number
    db.session.commit()
    body = _request(app, drain, number)
    assert body["status"] == "completed" and body["result"]["deregistration_status"] == "refused"
    registration = _registration(number)
    assert registration.status == "rejected" and _deregistration(registration) is None


def test_a3_unknown_registration_is_refused(app, ctx, drain):
    body = _request(app, drain, "DJ-NOT-THERE")
    assert body["status"] == "completed" and body["result"]["deregistration_status"] == "refused"


def test_a3_a_channel_cannot_claim_a_death_and_nothing_changes(app, ctx, drain):
    number = make_registration(make_person("long")).number
    db.session.commit()
    body = _request(app, drain, number, reason="deceased")
    assert body["result"]["deregistration_status"] == "refused"
    registration = _registration(number)
    assert registration.status == "active" and _deregistration(registration) is None


def test_a3_already_notified_deregistration_is_refused(app, ctx, drain):
    number = make_registration(make_person("long")).number
    db.session.commit()
    _request(app, drain, number)
    assert _request(app, drain, number)["result"]["deregistration_status"] == "refused"


def _record(p, day: str) -> dict:
    applicant = {
        "id_number": p.id_number,
        "name": p.name,
        "mobile": p.mobile,
        "address": ADDRESS,
        "reason": "employment",
    }
    result = dispatch("registration.record", {"applicant": applicant, "registered_on": day}, {})
    db.session.commit()
    return result


def test_a3_daily_sweep_deregisters_the_dead_the_expired_and_the_superseded(ctx, drain):
    dead = next(p for p in population() if p.deceased)
    dead_registration = make_registration(make_person(sim=dead)).number
    expired = make_registration(
        make_person("long", 1), registered_on=today() - timedelta(days=1200), valid_until=today() - timedelta(days=1)
    ).number
    db.session.commit()
    first = _record(sim_person("long", 2), (today() - timedelta(days=30)).isoformat())
    second = _record(sim_person("long", 2), today().isoformat())
    assert second["superseded"] == first["number"]
    still_active = make_registration(make_person("long", 3)).number
    db.session.commit()
    platform = ctx.extensions["permitflow"]
    sweep, _ = start_instance(
        platform, "deregistration_sweep", "DR-SWEEP", {"since": "2023-12-01", "batch_size": 2, "interval": "PT1S"}, OPS
    )
    sweep_id = sweep.id
    drain()
    db.session.rollback()
    sweep = db.session.get(ProcessInstance, sweep_id)
    assert sweep.status == "waiting" and [w["kind"] for w in sweep.waiting_on] == ["timer"]
    expected = {
        dead_registration: ("deceased", "death_list"),
        expired: ("expired", "system"),
        first["number"]: ("superseded", "system"),
    }
    for number, (reason, source) in expected.items():
        registration = _registration(number)
        row = _deregistration(registration)
        assert registration.status in ("deregistered", "superseded")
        assert (row.reason, row.source, row.status) == (reason, source, "notified"), number
        assert [n["department"] for n in row.notified] == ["mca3"]
    assert db.session.execute(select(Person).where(Person.id_number == dead.id_number)).scalar_one().deceased
    assert _registration(still_active).status == "active" and _registration(second["number"]).status == "active"
    started = (
        db.session.execute(select(ProcessInstance).where(ProcessInstance.process_key == "registration_deregistration"))
        .scalars()
        .all()
    )
    assert sorted(i.business_key for i in started) == sorted(f"DR-{n}" for n in expected)
    # The next day reads the death list from where it stopped and finds nothing new to do.
    time.sleep(1.1)
    assert claim_due_timers(platform) == 1
    drain()
    db.session.rollback()
    result = db.session.get(ProcessInstance, sweep_id).result
    assert result["since"] > "2023-12-01"
    assert result["last_detect"] == {
        "deceased": 0,
        "expired": 0,
        "superseded": 0,
        "more": False,
        "as_of": today().isoformat(),
    }


# -- B3: "deregistration done" SMS, only to a living person with a mobile ---------------------------------


def _dereg_sms(number: str) -> list[SmsMessage]:
    db.session.rollback()
    return (
        db.session.execute(
            select(SmsMessage).where(
                SmsMessage.business_key == f"DR-{number}", SmsMessage.template_code == "DEREG_DONE"
            )
        )
        .scalars()
        .all()
    )


def test_b3_deregistration_done_sms_goes_to_the_holder_after_the_departments_are_notified(app, ctx, drain):
    person = make_person("long", 5)
    number = make_registration(person).number
    mobile = person.mobile
    db.session.commit()
    body = _request(app, drain, number)
    assert body["result"]["deregistration_status"] == "deregistered"
    assert body["result"]["dereg_sms"]["status"] == "queued"
    [sms] = _dereg_sms(number)
    assert sms.mobile == mobile and number in sms.body and sms.status in ("queued", "sent", "delivered")


def test_b3_no_deregistration_sms_without_a_mobile(app, ctx, drain):
    person = make_person("long", 6)
    person.mobile = None
    number = make_registration(person).number
    db.session.commit()
    body = _request(app, drain, number)
    assert body["result"]["deregistration_status"] == "deregistered" and "dereg_sms" not in body["result"]
    assert _dereg_sms(number) == []


def test_b3_never_a_deregistration_sms_for_the_deceased(app, ctx, drain):
    from processes.sms_blocklist import block_person

    # Found on the death list by the sweep: the person is marked deceased and nothing is sent.
    dead = make_person("long", 7)
    dead_number = make_registration(dead).number
    db.session.commit()
    dispatch("deregistration.detect", {"deceased_ids": [dead.id_number], "as_of": today().isoformat()}, {})
    db.session.commit()
    drain()
    db.session.rollback()
    instance = db.session.execute(
        select(ProcessInstance).where(ProcessInstance.business_key == f"DR-{dead_number}")
    ).scalar_one()
    assert instance.status == "completed" and instance.result["deregistration_status"] == "deregistered"
    assert "dereg_sms" not in instance.result and _dereg_sms(dead_number) == []
    # On the SMS block list (a death not yet on the person row): the message is recorded `blocked`, never sent.
    blocked = make_person("long", 8)
    blocked_number = make_registration(blocked).number
    db.session.commit()
    block_person(blocked.id_number, reason="deceased", source="death_list", actor=OPS)
    body = _request(app, drain, blocked_number)
    assert body["result"]["deregistration_status"] == "deregistered"
    assert body["result"]["dereg_sms"]["status"] == "blocked"
    [sms] = _dereg_sms(blocked_number)
    assert sms.status == "blocked"
