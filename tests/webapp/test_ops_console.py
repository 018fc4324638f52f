"""Operations console: instance search, detail (diagram, masked data, history), incidents with retry, state changes."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from models import AuditLog, db
from tests.support import instance_row, register_key, set_fault, start_registration
from tests.support import person as sim_person
from tests.webapp.auth_support import csrf_token, sign_in

HRSS = "hrss.insurance_status"
FLOOR = {"seq": 0}


@pytest.fixture(autouse=True)
def audit_floor(app):
    """The audit log outlives the per-test cleanup (append-only): assertions look only at this test's rows."""
    with app.app_context():
        FLOOR["seq"] = db.session.execute(select(func.coalesce(func.max(AuditLog.seq), 0))).scalar_one()


def _start(app, drain, n: int = 0, business_key: str | None = None) -> str:
    response = start_registration(app.test_client(), register_key(app), sim_person("long", n), business_key)
    assert response.status_code == 201
    drain()
    return response.get_json()["id"]


def _events(app, prefix: str) -> list[str]:
    with app.app_context():
        query = select(AuditLog.event).where(AuditLog.event.like(prefix + "%"), AuditLog.seq > FLOOR["seq"])
        return list(db.session.execute(query).scalars())


def test_search_filters_and_pages(app, drain):
    for n in range(3):
        _start(app, drain, n, f"BK-OPS{n}")
    client = app.test_client()
    sign_in(client, "operator01")
    html = client.get("/console/instances").get_data(as_text=True)
    assert all(f'data-business-key="BK-OPS{n}"' in html for n in range(3)) and "共 3 条" in html
    assert "共 1 条" in client.get("/console/instances?business_key=BK-OPS1").get_data(as_text=True)
    full = sim_person("long", 2).id_number
    by_id = client.post("/console/instances", data={"csrf_token": csrf_token(client), "id_number": full})
    by_id = by_id.get_data(as_text=True)
    assert "共 1 条" in by_id and 'data-business-key="BK-OPS2"' in by_id and f"id_number={full}" not in by_id
    assert client.get(f"/console/instances?id_number={full}").status_code == 400  # never in a URL
    two = client.post("/console/instances", data={"csrf_token": csrf_token(client), "per_page": "10"})
    assert two.status_code == 200 and "共 3 条" in two.get_data(as_text=True)
    assert "共 3 条" in client.get("/console/instances?status=waiting&process_key=residence_registration").get_data(
        as_text=True
    )
    assert "共 0 条" in client.get("/console/instances?status=completed").get_data(as_text=True)
    assert "共 3 条" in client.get("/console/instances?district=徐汇区").get_data(as_text=True)
    assert "共 0 条" in client.get("/console/instances?district=unknown").get_data(as_text=True)
    assert client.get("/console/instances?district=火星区").status_code == 400
    assert "共 0 条" in client.get("/console/instances?created_to=2001-01-01").get_data(as_text=True)
    paged = client.get("/console/instances?per_page=10&page=2").get_data(as_text=True)
    assert "第 2 / 1 页" in paged and "没有符合条件的流程实例" in paged
    for query in ("status=nope", "page=x", "per_page=1000", "created_from=2026-02-30"):
        assert client.get(f"/console/instances?{query}").status_code == 400
    assert client.get("/console/instances/nonexistent").status_code == 404
    clerk = app.test_client()
    sign_in(clerk, "clerk01")
    assert clerk.get("/console/instances").status_code == 403


def test_detail_shows_diagram_highlight_masked_data_and_history(app, drain):
    public_id = _start(app, drain, 0, "BK-DETAIL")
    client = app.test_client()
    sign_in(client, "operator01")
    page = client.get(f"/console/instances/{public_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="instance-diagram"' in html and "js/diagram.js" in html
    assert '"highlight": ["Task_clerk_review"]' in html and "bpmn:definitions" in html
    full_id = sim_person("long", 0).id_number
    assert full_id not in html and full_id[:6] in html  # masked in data and history
    assert 'id="history"' in html and "发起" in html
    assert 'id="instance-tasks"' in html and "网点审核" in html and "未认领" in html
    assert _events(app, "ops.instance_view")


def test_suspend_resume_cancel_need_a_reason_and_are_audited(app, drain):
    public_id = _start(app, drain, 1)
    client = app.test_client()
    sign_in(client, "operator01")
    token = csrf_token(client)
    missing = client.post(f"/console/instances/{public_id}/suspend", data={"csrf_token": token, "reason": " "})
    assert missing.status_code == 422 and 'data-code="REASON_REQUIRED"' in missing.get_data(as_text=True)
    ok = client.post(f"/console/instances/{public_id}/suspend", data={"csrf_token": token, "reason": "核查材料"})
    assert ok.status_code == 302 and instance_row(app, public_id).suspended is True
    twice = client.post(f"/console/instances/{public_id}/suspend", data={"csrf_token": token, "reason": "再次"})
    assert twice.status_code == 409 and "ALREADY_SUSPENDED" in twice.get_data(as_text=True)
    assert client.post(f"/console/instances/{public_id}/resume", data={"csrf_token": token}).status_code == 422
    resumed = client.post(f"/console/instances/{public_id}/resume", data={"csrf_token": token, "reason": "核查完毕"})
    assert resumed.status_code == 302 and instance_row(app, public_id).suspended is False
    bad = client.post(f"/console/instances/{public_id}/explode", data={"csrf_token": token, "reason": "x"})
    assert bad.status_code == 404
    cancelled = client.post(f"/console/instances/{public_id}/cancel", data={"csrf_token": token, "reason": "重复申请"})
    assert cancelled.status_code == 302 and instance_row(app, public_id).status == "cancelled"
    events = _events(app, "ops.")
    assert {"ops.suspend", "ops.resume", "ops.cancel"} <= set(events) and events.count("ops.suspend") == 1
    viewer = app.test_client()
    sign_in(viewer, "sysadmin")  # ops.view and ops.act
    assert viewer.get(f"/console/instances/{public_id}").status_code == 200


def test_incidents_list_and_retry(app, drain, simulator):
    set_fault(simulator, HRSS, outage=True)
    public_id = _start(app, drain, 2, "BK-INC")
    assert instance_row(app, public_id).status == "error"
    client = app.test_client()
    sign_in(client, "operator01")
    home = client.get("/").get_data(as_text=True)
    assert 'id="tile-incidents"' in home and 'id="nav-incidents"' in home
    listing = client.get("/console/incidents").get_data(as_text=True)
    assert "BK-INC" in listing and "SERVER_ERROR" in listing
    import re

    incident_id = int(re.search(r'id="retry-(\d+)"', listing).group(1))
    requests.delete(simulator.url + "/_admin/faults", timeout=5)
    retried = client.post(f"/console/incidents/{incident_id}/retry", data={"csrf_token": csrf_token(client)})
    assert retried.status_code == 302
    drain()
    assert instance_row(app, public_id).status == "waiting"
    again = client.post(f"/console/incidents/{incident_id}/retry", data={"csrf_token": csrf_token(client)})
    assert again.status_code == 409 and "INCIDENT_RESOLVED" in again.get_data(as_text=True)
    assert (
        client.post("/console/incidents/99999999999/retry", data={"csrf_token": csrf_token(client)}).status_code == 404
    )
    assert "BK-INC" in client.get("/console/incidents?status=resolved").get_data(as_text=True)
    assert client.get("/console/incidents?status=bogus").status_code == 400
    assert client.get("/console/incidents?page=zz").status_code == 400
    assert "ops.retry" in _events(app, "ops.")
