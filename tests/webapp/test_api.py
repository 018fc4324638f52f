"""Channel API: every error code, idempotent start, channel isolation, OpenAPI, health probes."""

from __future__ import annotations

import pytest

from tests.support import application, register_key, start_registration
from tests.support import person as sim_person

START = "/api/v1/processes/residence_registration/instances"


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def key(app):
    return register_key(app, "channel_line")


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code and body["message"] and "details" in body
    return body


def test_401_without_or_with_a_wrong_key(client):
    _error(client.get("/api/v1/tasks"), 401, "API_KEY_MISSING")
    _error(client.get("/api/v1/tasks", headers={"X-Api-Key": "nope"}), 401, "API_KEY_INVALID")
    _error(client.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"}), 401, "API_KEY_INVALID")


def test_400_for_malformed_or_non_object_bodies_and_bad_paging(client, key):
    headers = {"X-Api-Key": key, "Content-Type": "application/json"}
    _error(client.post(START, headers=headers, data="{not json"), 400, "MALFORMED_JSON")
    _error(client.post(START, headers=headers, data="[1, 2]"), 400, "BODY_NOT_OBJECT")
    _error(client.post(START, headers={"X-Api-Key": key}, data="x=1"), 400, "NOT_JSON")
    _error(client.get("/api/v1/tasks?page=0", headers={"X-Api-Key": key}), 400, "BAD_PAGING")
    _error(client.get("/api/v1/tasks?per_page=abc", headers={"X-Api-Key": key}), 400, "BAD_PAGING")
    _error(client.get("/api/v1/tasks?status=weird", headers={"X-Api-Key": key}), 400, "BAD_FILTER")
    _error(client.post(START + "?wait=99", headers={"X-Api-Key": key}, json={}), 400, "BAD_WAIT")


def test_422_names_each_bad_field_in_chinese_and_writes_nothing(app, client, key):
    p = sim_person("long")
    body = _error(
        client.post(
            START,
            headers={"X-Api-Key": key},
            json={"business_key": "BK-1", "data": application(p, id_number="320102198401041007", mobile="123")},
        ),
        422,
        "FORM_INVALID",
    )
    assert body["details"]["fields"]["id_number"] == "身份证号码校验位错误"
    assert "手机号码" in body["details"]["fields"]["mobile"]
    _error(client.post(START, headers={"X-Api-Key": key}, json={"data": application(p)}), 422, "FIELD_REQUIRED")
    _error(
        client.post(START, headers={"X-Api-Key": key}, json={"business_key": "x" * 121, "data": application(p)}),
        422,
        "FIELD_TOO_LONG",
    )
    from sqlalchemy import func, select

    from models import ProcessInstance, db

    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ProcessInstance)).scalar_one() == 0


def test_404s(client, key):
    _error(
        client.post("/api/v1/processes/nope/instances", headers={"X-Api-Key": key}, json={"business_key": "b"}),
        404,
        "PROCESS_NOT_FOUND",
    )
    _error(client.get("/api/v1/instances/abc", headers={"X-Api-Key": key}), 404, "INSTANCE_NOT_FOUND")
    _error(client.get("/api/v1/tasks/999999", headers={"X-Api-Key": key}), 404, "TASK_NOT_FOUND")
    _error(
        client.post("/api/v1/messages", headers={"X-Api-Key": key}, json={"message_name": "m", "business_key": "b"}),
        404,
        "NO_WAITING_INSTANCE",
    )
    _error(client.get("/api/v1/no/such/route", headers={"X-Api-Key": key}), 404, "NOT_FOUND")


def test_403_for_operations_a_channel_may_not_do(client, key, app, drain):
    started = start_registration(client, key, sim_person("long")).get_json()
    drain()
    _error(
        client.post(f"/api/v1/instances/{started['id']}/cancel", headers={"X-Api-Key": key}, json={"reason": "x"}),
        403,
        "OPS_ONLY",
    )
    _error(client.get(f"/api/v1/instances/{started['id']}/history", headers={"X-Api-Key": key}), 403, "OPS_ONLY")


def test_413_for_an_oversized_body(client, key):
    huge = {"business_key": "b", "data": {"address": "x" * (3 * 1024 * 1024)}}
    _error(client.post(START, headers={"X-Api-Key": key}, json=huge), 413, "PAYLOAD_TOO_LARGE")


def test_idempotent_start_returns_the_same_instance_and_refuses_reuse(app, client, key, drain):
    p = sim_person("long")
    first = start_registration(client, key, p, business_key="BK-IDEM", idempotency_key="idem-1")
    again = start_registration(client, key, p, business_key="BK-IDEM", idempotency_key="idem-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    reused = start_registration(client, key, p, business_key="BK-OTHER", idempotency_key="idem-1")
    _error(reused, 409, "IDEMPOTENCY_KEY_REUSED")
    other_channel = register_key(app, "terminal")
    separate = start_registration(client, other_channel, p, business_key="BK-IDEM", idempotency_key="idem-1")
    assert separate.status_code == 201 and separate.get_json()["id"] != first.get_json()["id"]


def test_a_channel_sees_only_what_it_started(app, client, key, drain):
    started = start_registration(client, key, sim_person("exactly5")).get_json()
    drain()
    stranger = register_key(app, "suishenban")
    _error(client.get(f"/api/v1/instances/{started['id']}", headers={"X-Api-Key": stranger}), 404, "INSTANCE_NOT_FOUND")
    mine = client.get("/api/v1/tasks", headers={"X-Api-Key": key}).get_json()
    theirs = client.get("/api/v1/tasks", headers={"X-Api-Key": stranger}).get_json()
    assert mine["total"] == 1 and theirs["total"] == 0
    task_id = mine["items"][0]["id"]
    _error(
        client.post(
            f"/api/v1/tasks/{task_id}/complete", headers={"X-Api-Key": stranger}, json={"data": {"choice": "continue"}}
        ),
        404,
        "TASK_NOT_FOUND",
    )
    _error(
        client.post(
            f"/api/v1/tasks/{task_id}/complete", headers={"X-Api-Key": key}, json={"data": {"choice": "maybe"}}
        ),
        422,
        "FORM_INVALID",
    )
    _error(client.post(f"/api/v1/tasks/{task_id}/complete", headers={"X-Api-Key": key}, json={}), 400, "FIELD_REQUIRED")


def test_ops_can_suspend_resume_and_cancel_with_reasons(app, client, key, drain):
    ops = {"X-Api-Key": register_key(app, kind="ops")}
    started = start_registration(client, key, sim_person("exactly5")).get_json()
    drain()
    url = f"/api/v1/instances/{started['id']}"
    _error(client.post(url + "/suspend", headers=ops, json={}), 422, "FIELD_REQUIRED")
    assert client.post(url + "/suspend", headers=ops, json={"reason": "核查材料"}).get_json()["suspended"] is True
    _error(client.post(url + "/suspend", headers=ops, json={"reason": "again"}), 409, "ALREADY_SUSPENDED")
    task_id = client.get("/api/v1/tasks", headers={"X-Api-Key": key}).get_json()["items"][0]["id"]
    _error(
        client.post(
            f"/api/v1/tasks/{task_id}/complete", headers={"X-Api-Key": key}, json={"data": {"choice": "continue"}}
        ),
        409,
        "INSTANCE_SUSPENDED",
    )
    assert client.post(url + "/resume", headers=ops, json={}).get_json()["suspended"] is False
    cancelled = client.post(url + "/cancel", headers=ops, json={"reason": "申请人撤回"}).get_json()
    assert cancelled["status"] == "cancelled" and cancelled["current_tasks"] == []
    _error(client.post(url + "/cancel", headers=ops, json={"reason": "again"}), 409, "INSTANCE_FINISHED")
    history = client.get(url + "/history", headers=ops).get_json()["events"]
    assert [e["kind"] for e in history][-3:] == ["suspended", "resumed", "cancelled"]
    assert history[-1]["details"]["reason"] == "申请人撤回"


def test_openapi_document_lists_every_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {"/api/v1" + path for path in doc["paths"]}
    routes = {
        str(rule).replace("<int:", "{").replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if str(rule).startswith("/api/v1/") and "openapi" not in str(rule)
    }
    routes = {r.replace("{task_id}", "{task_id}") for r in routes}
    assert routes <= documented, routes - documented


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["database"]["ok"] is True


def test_request_id_is_echoed_or_made(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abcdef123456"})
    assert given.headers["X-Request-ID"] == "abcdef123456"
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 16


def test_home_page_speaks_chinese(client):
    page = client.get("/")
    assert page.status_code == 200 and "居住登记" in page.get_data(as_text=True)
    missing = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "请求的资源不存在" in missing.get_data(as_text=True)


def test_request_id_follows_the_request_into_its_jobs(app, client, key, drain):
    from sqlalchemy import select

    from models import ProcessEvent, db

    response = client.post(
        START,
        headers={"X-Api-Key": key, "X-Request-ID": "req-trace-0001"},
        json={"business_key": "BK-TRACE", "data": application(sim_person("long"))},
    )
    drain()
    with app.app_context():
        events = db.session.execute(select(ProcessEvent.kind, ProcessEvent.actor, ProcessEvent.request_id)).all()
    assert response.status_code == 201
    # Every step the request started (the registration's service tasks) carries its request id.
    assert events[0][0] == "started" and {kind for kind, _, _ in events[1:]} == {"service_completed"}
    assert {rid for _, _, rid in events} == {"req-trace-0001"}
    assert events[1].actor == "system"
