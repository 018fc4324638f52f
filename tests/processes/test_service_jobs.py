"""Service tasks: transient failures retried with backoff, permanent ones become incidents, retry once fixed."""

from __future__ import annotations

from sqlalchemy import select

from models import Incident, OutboxJob, ProcessEvent, db
from tests.support import instance_row, ready_task, register_key, set_fault, sim_calls, start_registration
from tests.support import person as sim_person

HRSS = "hrss.insurance_status"


def _ops(app):
    return {"X-Api-Key": register_key(app, kind="ops")}


def test_transient_hrss_failures_are_retried_then_succeed(app, drain, simulator):
    set_fault(simulator, HRSS, fail_next=2, error_status=503)
    client = app.test_client()
    response = start_registration(client, register_key(app), sim_person("long"))
    drain()
    instance = instance_row(app, response.get_json()["id"])
    assert instance.status == "waiting", instance.status
    assert sim_calls(simulator, HRSS) == 3
    with app.app_context():
        kinds = (
            db.session.execute(
                select(ProcessEvent.kind).where(ProcessEvent.instance_id == instance.id).order_by(ProcessEvent.id)
            )
            .scalars()
            .all()
        )
        jobs = db.session.execute(select(OutboxJob).where(OutboxJob.instance_id == instance.id)).scalars().all()
        [job] = [j for j in jobs if j.payload.get("operator") == "hrss.check_insurance"]
    # The registration has other steps around the HRSS check: only its two retries are of interest here.
    assert kinds[0] == "started" and kinds.count("service_retry") == 2 and kinds[-1] == "service_completed"
    assert (job.status, job.attempts) == ("done", 2)
    assert ready_task(app, instance.public_id).task_spec == "Task_clerk_review"


def test_exhausted_retries_become_an_incident_retryable_over_the_api(app, drain, simulator):
    set_fault(simulator, HRSS, outage=True)
    client = app.test_client()
    key = register_key(app)
    started = start_registration(client, key, sim_person("long")).get_json()
    drain()
    body = client.get(f"/api/v1/instances/{started['id']}", headers=_ops(app)).get_json()
    assert body["status"] == "error"
    [incident] = body["incidents"]
    assert incident["code"] == "SERVER_ERROR" and incident["attempts"] == 3
    assert sim_calls(simulator, HRSS) == 3
    with app.app_context():
        row = db.session.get(Incident, incident["id"])
        assert "SERVER_ERROR" in row.traceback or "hrss" in row.traceback
    ops = _ops(app)
    assert client.post(f"/api/v1/incidents/{incident['id']}/retry", headers={"X-Api-Key": key}).status_code == 403
    requests_delete = __import__("requests").delete
    requests_delete(simulator.url + "/_admin/faults", timeout=5)
    retried = client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=ops)
    assert retried.status_code == 200 and retried.get_json()["status"] == "resolved"
    drain()
    after = client.get(f"/api/v1/instances/{started['id']}", headers=ops).get_json()
    assert after["status"] == "waiting" and after["incidents"] == []
    assert after["result"]["hrss_check"]["passed"] is True
    again = client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=ops)
    assert again.status_code == 409 and again.get_json()["code"] == "INCIDENT_RESOLVED"


def test_permanent_failure_without_a_boundary_event_is_an_incident_at_once(app, drain, simulator):
    set_fault(simulator, HRSS, malformed=True)
    client = app.test_client()
    started = start_registration(client, register_key(app), sim_person("long")).get_json()
    drain()
    instance = instance_row(app, started["id"])
    assert instance.status == "error"
    assert sim_calls(simulator, HRSS) == 1  # not retried: a malformed answer will not fix itself
    with app.app_context():
        incident = db.session.execute(select(Incident).where(Incident.instance_id == instance.id)).scalar_one()
    assert (incident.error_code, incident.attempts, incident.operator) == (
        "MALFORMED_RESPONSE",
        1,
        "hrss.check_insurance",
    )


def test_call_log_keeps_digests_not_personal_data(app, drain):
    from models import IntegrationCall

    p = sim_person("long")
    client = app.test_client()
    start_registration(client, register_key(app), p)
    drain()
    with app.app_context():
        calls = db.session.execute(select(IntegrationCall)).scalars().all()
    [call] = [c for c in calls if c.system == "hrss"]
    assert (call.system, call.operation, call.status, call.http_status) == ("hrss", "insurance_status", "ok", 200)
    assert len(call.request_sm3) == 64 and len(call.response_sm3) == 64
    assert all(p.id_number not in str(value) for c in calls for value in vars(c).values())
