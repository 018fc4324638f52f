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
