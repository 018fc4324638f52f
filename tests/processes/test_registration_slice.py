"""A2 residence registration end to end: channel API → HRSS over HTTP → clerk review → result."""

from __future__ import annotations

from processes.tasks import complete_task
from tests.support import clerk, instance_row, ready_task, register_key, start_registration
from tests.support import person as sim_person


def _start(app, client, drain, profile: str, **overrides):
    key = register_key(app, "suishenban")
    response = start_registration(client, key, sim_person(profile), **overrides)
    assert response.status_code == 201, response.get_json()
    drain()
    body = client.get(f"/api/v1/instances/{response.get_json()['id']}", headers={"X-Api-Key": key}).get_json()
    return key, body


def test_a2_insured_applicant_passes_hrss_and_is_registered_after_clerk_approval(app, drain):
    client = app.test_client()
    key, body = _start(app, client, drain, "long")
    assert body["status"] == "waiting"
    assert body["result"]["hrss_check"]["passed"] is True
    assert body["result"]["hrss_check"]["consecutive_months"] == 24
    assert "符合扩围条件" in body["result"]["hrss_check"]["feedback"][0]
    assert body["current_tasks"] == []  # the clerk's task is not the channel's
    task = ready_task(app, body["id"])
    assert task.form_key == "registration_review" and task.role == "clerk" and task.due_at is not None
    with app.app_context():
        complete_task(app.extensions["permitflow"], task.id, {"decision": "approve", "comment": "材料齐全"}, clerk())
    drain()
    final = client.get(f"/api/v1/instances/{body['id']}", headers={"X-Api-Key": key}).get_json()
    assert final["status"] == "completed"
    assert final["result"]["registration_status"] == "registered"
    assert final["result"]["review_comment"] == "材料齐全"
    assert instance_row(app, body["id"]).completed_at is not None
    registration = final["result"]["registration"]
    assert registration["status"] == "active" and registration["number"].startswith("DJ")
    with app.app_context():
        from models import Person, ResidenceRegistration, db

        row = db.session.execute(db.select(ResidenceRegistration)).scalar_one()
        person = db.session.get(Person, row.person_id)
    assert (row.number, row.status, row.insured_months, row.channel) == (
        registration["number"],
        "active",
        24,
        "suishenban",
    )
    assert person.id_number == sim_person("long").id_number and person.gender in ("M", "F")


def test_a2_five_months_gets_actionable_feedback_and_a_channel_task(app, drain):
    client = app.test_client()
    key, body = _start(app, client, drain, "exactly5")
    check = body["result"]["hrss_check"]
    assert check["passed"] is False and check["consecutive_months"] == 5
    assert any("还差1个月" in line for line in check["feedback"])
    [task] = body["current_tasks"]
    assert task["form_key"] == "registration_supplement" and task["role"] == "applicant"
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete", headers={"X-Api-Key": key}, json={"data": {"choice": "continue"}}
    )
    assert response.status_code == 200, response.get_json()
    drain()
    review = ready_task(app, body["id"])
    with app.app_context():
        complete_task(
            app.extensions["permitflow"], review.id, {"decision": "reject", "comment": "居住地址不符"}, clerk()
        )
    final = instance_row(app, body["id"])
    assert final.status == "completed"
    assert final.result["registration_status"] == "rejected"


def test_a2_resubmit_after_supplement_checks_hrss_again(app, drain, simulator):
    from tests.support import sim_calls

    client = app.test_client()
    key, body = _start(app, client, drain, "none")
    assert body["result"]["hrss_check"]["insured"] is False
    assert any("未查询到" in line for line in body["result"]["hrss_check"]["feedback"])
    [task] = body["current_tasks"]
    client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        headers={"X-Api-Key": key},
        json={"data": {"choice": "resubmit", "note": "已参保"}},
    )
    drain()
    assert sim_calls(simulator, "hrss.insurance_status") == 2
    again = client.get(f"/api/v1/instances/{body['id']}", headers={"X-Api-Key": key}).get_json()
    assert again["current_tasks"][0]["form_key"] == "registration_supplement"  # still uninsured: asked again


def test_a2_name_rejected_by_hrss_is_a_bpmn_error_leading_to_correction(app, drain):
    client = app.test_client()
    p = sim_person("long")
    key, body = _start(app, client, drain, "long", name="错误姓名")
    assert body["status"] == "waiting" and body["incidents"] == []
    [task] = body["current_tasks"]
    assert task["form_key"] == "registration_correction"
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        headers={"X-Api-Key": key},
        json={"data": {"name": p.name, "id_number": p.id_number}},
    )
    assert response.status_code == 200
    drain()
    fixed = client.get(f"/api/v1/instances/{body['id']}", headers={"X-Api-Key": key}).get_json()
    assert fixed["result"]["hrss_check"]["passed"] is True
    assert ready_task(app, body["id"]).task_spec == "Task_clerk_review"


def test_a2_every_channel_gets_the_same_result(app, drain):
    client = app.test_client()
    outcomes = []
    for code in ("channel_line", "mca3", "suishenban", "terminal"):
        key = register_key(app, code)
        response = start_registration(client, key, sim_person("exactly6"))
        drain()
        body = client.get(f"/api/v1/instances/{response.get_json()['id']}", headers={"X-Api-Key": key}).get_json()
        outcomes.append(
            (body["status"], body["result"]["hrss_check"]["passed"], body["result"]["hrss_check"]["consecutive_months"])
        )
    assert outcomes == [("waiting", True, 6)] * 4


# ---- B1.17 unified validation, housing (lawful stable residence), A5 e-licences, A4 latest photo ------------


def _done(app, drain, profile: str = "long", nth: int = 0, **overrides):
    client = app.test_client()
    key = register_key(app)
    response = start_registration(client, key, sim_person(profile, nth), **overrides)
    assert response.status_code == 201, response.get_json()
    drain()
    return response.get_json()["id"]


def _review(app, drain, public_id: str, data: dict) -> None:
    with app.app_context():
        complete_task(app.extensions["permitflow"], ready_task(app, public_id).id, data, clerk())
    drain()


def _refused(app, public_id: str, code: str) -> None:
    from models import ResidenceRegistration
    from tests.processes.permit_support import count

    final = instance_row(app, public_id)
    assert final.status == "completed" and final.result["registration_status"] == "refused"
    assert final.result["validation"]["code"] == code and final.result["review_comment"]
    assert "hrss_check" not in final.result  # refused before any external check
    assert count(app, ResidenceRegistration) in (0, 1)


def test_b1_17_unknown_service_point_is_refused_and_a_staffed_one_accepted(app, drain):
    from processes.users import upsert_user

    _refused(app, _done(app, drain, service_point="不存在的受理点"), "SERVICE_POINT_UNKNOWN")
    with app.app_context():
        upsert_user("clerk-xh", "徐汇受理员", "clerk", "pw-Secret-123", service_point="XH01")
    accepted = instance_row(app, _done(app, drain, service_point="XH01"))
    assert accepted.result["validation"]["ok"] is True and accepted.status == "waiting"


def test_b1_17_deceased_applicant_is_refused(app, drain):
    from integrations.idnumber import birth_date, gender
    from models import Person, db

    p = sim_person("long", 1)
    with app.app_context():
        db.session.add(
            Person(
                id_number=p.id_number,
                name=p.name,
                gender=gender(p.id_number),
                birth_date=birth_date(p.id_number),
                deceased=True,
            )
        )
        db.session.commit()
    _refused(app, _done(app, drain, nth=1), "PERSON_DECEASED")


def test_b1_17_active_registration_at_the_same_address_is_refused_another_address_supersedes(app, drain):
    first = _done(app, drain, nth=2)
    _review(app, drain, first, {"decision": "approve"})
    _refused(app, _done(app, drain, nth=2), "ALREADY_REGISTERED_HERE")
    moved = _done(app, drain, nth=2, address="上海市静安区共和新路100弄1号101室")
    _review(app, drain, moved, {"decision": "approve"})
    assert (
        instance_row(app, moved).result["registration"]["superseded"]
        == (instance_row(app, first).result["registration"]["number"])
    )


def _house(legality: str) -> str:
    from tests.processes.permit_support import address_code

    return address_code(legality)


def test_a2_illegal_house_needs_the_clerks_decision_accept_then_register(app, drain):
    public_id = _done(app, drain, nth=3, address_code=_house("illegal"))
    body = instance_row(app, public_id).result
    assert body["housing_check"]["match"] == "illegal" and "违法建筑" in body["housing_check"]["reason"]
    task = ready_task(app, public_id)
    assert task.form_key == "registration_housing_decision"
    _review(app, drain, public_id, {"decision": "accept", "reason": "已核实为临时安置房"})
    _review(app, drain, public_id, {"decision": "approve"})
    assert instance_row(app, public_id).result["registration_status"] == "registered"


def test_a2_illegal_house_refused_by_the_clerk(app, drain):
    public_id = _done(app, drain, nth=4, address_code=_house("illegal"))
    _review(app, drain, public_id, {"decision": "refuse", "reason": "违法建筑不予登记"})
    final = instance_row(app, public_id)
    assert final.status == "completed" and final.result["registration_status"] == "rejected"
    assert final.result["review_comment"] == "违法建筑不予登记"


def test_a2_unknown_house_lists_materials_and_the_applicant_supplements_them(app, drain):
    from models import ResidenceRegistration, db

    client = app.test_client()
    key = register_key(app)
    public_id = start_registration(client, key, sim_person("long", 5)).get_json()["id"]
    drain()  # no address code: the housing data cannot confirm the house
    housing = instance_row(app, public_id).result["housing_check"]
    assert housing["match"] == "unknown" and any("租赁合同" in m for m in housing["materials"])
    _review(app, drain, public_id, {"decision": "supplement", "comment": "请补充房屋材料"})
    task = ready_task(app, public_id, role="applicant")
    assert task.form_key == "registration_housing_supplement"
    response = client.post(
        f"/api/v1/tasks/{task.id}/complete",
        headers={"X-Api-Key": key},
        json={"data": {"address_code": _house("legal"), "note": "租赁合同"}},
    )
    assert response.status_code == 200, response.get_json()
    drain()
    assert instance_row(app, public_id).result["housing_check"]["match"] == "legal"
    _review(app, drain, public_id, {"decision": "approve"})
    with app.app_context():
        row = db.session.execute(db.select(ResidenceRegistration)).scalar_one()
    assert row.house_id == instance_row(app, public_id).result["housing_check"]["house_id"]


def test_a5_elicences_fill_the_form_and_list_expired_ones_to_bring(app, drain):
    from integrations.simulators.dataset import population

    p = next(x for x in population() if x.index % 10 == 6 and x.hrss_profile == "long" and not x.deceased)
    key = register_key(app)
    response = start_registration(app.test_client(), key, p)
    drain()
    licences = instance_row(app, response.get_json()["id"]).result["licences"]
    assert licences["materials_to_bring"] == ["居民身份证（电子证照已过期，请携带原件）"]
    assert licences["filled"]["household_address"] and licences["complete"] is False


def test_a4_registration_uses_the_latest_photo_and_keeps_the_history(app, drain):
    from models import Photo, ResidenceRegistration, db
    from tests.processes.permit_support import count, seed_registration

    p = sim_person("long", 6)
    seed_registration(app, p, months=1, photos=3)
    public_id = _done(app, drain, nth=6)
    _review(app, drain, public_id, {"decision": "approve"})
    photo = instance_row(app, public_id).result["photo"]
    with app.app_context():
        latest = db.session.execute(db.select(Photo).order_by(Photo.taken_at.desc())).scalars().first()
        row = db.session.execute(
            db.select(ResidenceRegistration).where(
                ResidenceRegistration.number == instance_row(app, public_id).result["registration"]["number"]
            )
        ).scalar_one()
    assert photo["photo_id"] == latest.id == row.photo_id and count(app, Photo) == 3


# ---- B3 business-event SMS: "registration submitted" ------------------------------------------------------


def _submitted_sms(app, public_id: str) -> list:
    from sqlalchemy import select

    from models import SmsMessage, db

    business_key = instance_row(app, public_id).business_key
    with app.app_context():
        return list(
            db.session.execute(
                select(SmsMessage).where(SmsMessage.business_key == business_key).order_by(SmsMessage.id)
            ).scalars()
        )


def test_b3_submitted_sms_is_queued_once_per_accepted_registration(app, drain):
    from models import SmsMessage
    from tests.processes.permit_support import count

    client = app.test_client()
    p = sim_person("none")
    key, body = _start(app, client, drain, "none")
    [sms] = _submitted_sms(app, body["id"])
    assert (sms.template_code, sms.mobile) == ("REG_SUBMITTED", p.mobile)
    assert sms.status in ("queued", "sent", "delivered")  # queued with the step; the outbox may have sent it
    assert p.name in sms.body and body["business_key"] in sms.body
    # Checking HRSS again after a supplement loops back behind the SMS step: still one message.
    [task] = body["current_tasks"]
    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete", headers={"X-Api-Key": key}, json={"data": {"choice": "resubmit"}}
    )
    assert response.status_code == 200, response.get_json()
    drain()
    assert len(_submitted_sms(app, body["id"])) == 1
    # Another registration gets its own message; a refused one (not accepted) gets none.
    second = _done(app, drain, "long", 2)
    assert [m.template_code for m in _submitted_sms(app, second)] == ["REG_SUBMITTED"]
    refused = _done(app, drain, service_point="不存在的受理点")
    _refused(app, refused, "SERVICE_POINT_UNKNOWN")
    assert _submitted_sms(app, refused) == [] and count(app, SmsMessage) == 2


def test_b3_submitted_sms_to_a_blocked_person_is_recorded_blocked_and_registration_goes_on(app, drain):
    from processes.sms_blocklist import block_person
    from processes.stepping import Actor

    p = sim_person("long", 3)
    with app.app_context():
        block_person(p.id_number, reason="opt_out", source="manual", actor=Actor(kind="ops", name="ops:test"))
    public_id = _done(app, drain, "long", 3)
    [sms] = _submitted_sms(app, public_id)
    assert (sms.template_code, sms.status) == ("REG_SUBMITTED", "blocked")
    row = instance_row(app, public_id)
    assert row.status == "waiting" and ready_task(app, public_id).task_spec == "Task_clerk_review"
