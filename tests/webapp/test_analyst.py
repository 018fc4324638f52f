"""Analyst workspace pages: permissions, versions, counts, draft → validate → submit → another analyst approves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import delete

from models import DiagramDraft, db
from processes.deployment import deploy_sources, latest_process
from processes.instances import start_instance
from processes.platform import BPMN_DIR
from processes.stepping import Actor
from tests.support import application
from tests.support import person as sim_person
from tests.webapp.auth_support import DEMO_LOGINS, sign_in

SOURCE = (BPMN_DIR / "residence_registration.bpmn").read_text(encoding="utf-8")


@pytest.fixture
def analyst_client(app):
    """A test client signed in as the demo analyst (real two-factor sign-in); drafts removed afterwards."""
    client = app.test_client()
    sign_in(client, DEMO_LOGINS["analyst"])
    yield client
    with app.app_context():
        db.session.execute(delete(DiagramDraft))
        db.session.commit()


def _csrf(client) -> str:
    with client.session_transaction() as session:
        token = session.get("csrf")
    if token:
        return token
    page = client.get("/analyst/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _post_json(client, url: str, body: dict):
    return client.post(url, json=body, headers={"X-CSRF-Token": _csrf(client), "Accept": "application/json"})


def test_pages_need_sign_in_and_the_process_permissions(app):
    anonymous = app.test_client()
    response = anonymous.get("/analyst/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    clerk = app.test_client()
    sign_in(clerk, DEMO_LOGINS["clerk"])
    assert clerk.get("/analyst/").status_code == 403
    # Operations staff may look at processes but not edit them.
    ops = app.test_client()
    sign_in(ops, DEMO_LOGINS["data_operator"])
    page = ops.get("/analyst/")
    assert page.status_code == 200 and "居住登记" in page.get_data(as_text=True)
    assert 'id="edit-bpmn-residence_registration"' not in page.get_data(as_text=True)
    refused = ops.post("/analyst/bpmn/residence_registration/draft", data={"csrf_token": _csrf(ops)})
    assert refused.status_code == 403


def test_versions_and_diagram_with_running_counts(app, analyst_client, drain):
    with app.app_context():
        platform = app.extensions["permitflow"]
        start_instance(
            platform, "residence_registration", "BK-AN1", application(sim_person("long")), Actor("ops", "ops:t")
        )
        version = latest_process("residence_registration").version
    drain()
    page = analyst_client.get("/analyst/bpmn/residence_registration").get_data(as_text=True)
    assert f'data-version="{version}"' in page and "校验和" in page
    diagram = analyst_client.get(f"/analyst/bpmn/residence_registration/v{version}")
    assert diagram.status_code == 200
    body = diagram.get_data(as_text=True)
    data = json.loads(re.search(r'id="pf-viewer-data">(.*?)</script>', body, re.S).group(1))
    assert data["counts"] == {"Task_clerk_review": 1} and data["xml"].startswith("<?xml")
    source = analyst_client.get(f"/analyst/bpmn/residence_registration/v{version}/source")
    assert source.status_code == 200 and source.get_data(as_text=True) == SOURCE
    assert analyst_client.get("/analyst/bpmn/no_such_process").status_code == 404
    assert analyst_client.get("/analyst/xml/residence_registration").status_code == 400


@pytest.fixture
def reviewer_client(app, analyst_client):
    """A second analyst (process.publish), for the four-eyes review of the first one's drafts."""
    client = app.test_client()
    sign_in(client, "analyst02")
    return client


def _form_post(client, url: str, **data):
    return client.post(url, data={"csrf_token": _csrf(client), **data})


def test_draft_validate_submit_approve_by_another_analyst_and_compare_over_http(app, analyst_client, reviewer_client):
    with app.app_context():
        before = latest_process("residence_registration").version
    opened = analyst_client.post(
        "/analyst/bpmn/residence_registration/draft", data={"csrf_token": _csrf(analyst_client)}
    )
    assert opened.status_code == 302
    draft_url = opened.headers["Location"]
    draft_id = int(draft_url.rstrip("/").rsplit("/", 1)[1])
    modeler = analyst_client.get(draft_url).get_data(as_text=True)
    assert (
        "pf-modeler-config" in modeler and "bpmn-modeler.production.min.js" in modeler and 'id="pf-submit"' in modeler
    )
    assert analyst_client.post(draft_url + "/save", json={"xml": "x"}).status_code in (400, 403)  # no CSRF token
    broken = SOURCE.replace('value="registration_supplement"', 'value="no_form"')
    assert _post_json(analyst_client, draft_url + "/save", {"xml": broken}).status_code == 200
    report = _post_json(analyst_client, draft_url + "/validate", {}).get_json()
    assert report["ok"] is False and report["problems"][0]["element"] == "Task_supplement"
    refused = _post_json(analyst_client, draft_url + "/submit", {"comment": "坏的"})
    assert refused.status_code == 422 and refused.get_json()["code"] == "DEPLOYMENT_INVALID"
    fixed = SOURCE.replace('name="网点审核"', 'name="网点审核（网页改）"')
    assert _post_json(analyst_client, draft_url + "/save", {"xml": fixed}).status_code == 200
    assert _post_json(analyst_client, draft_url + "/validate", {}).get_json()["ok"] is True
    missing = _post_json(analyst_client, draft_url + "/submit", {"comment": ""})
    assert missing.status_code == 422 and missing.get_json()["message"] == "提交发布必须填写变更说明"
    submitted = _post_json(analyst_client, draft_url + "/submit", {"comment": "网页发布测试"})
    assert submitted.status_code == 200 and submitted.get_json()["status"] == "submitted"
    with app.app_context():
        assert latest_process("residence_registration").version == before  # not deployed yet
    page = analyst_client.get(draft_url).get_data(as_text=True)
    assert 'id="pf-submitted"' in page and 'id="pf-save"' not in page
    # The author sees the submission in the queue but cannot review it, not even by posting directly.
    queue = analyst_client.get("/analyst/reviews").get_data(as_text=True)
    assert "本人提交，需他人审核" in queue and f'id="review-{draft_id}"' not in queue
    own = analyst_client.get(f"/analyst/reviews/{draft_id}").get_data(as_text=True)
    assert 'id="pf-own-draft"' in own and 'id="pf-approve"' not in own
    assert _form_post(analyst_client, f"/analyst/reviews/{draft_id}/approve").status_code == 403
    with app.app_context():
        assert latest_process("residence_registration").version == before
    try:
        queue = reviewer_client.get("/analyst/reviews").get_data(as_text=True)
        assert f'id="review-{draft_id}"' in queue and "网页发布测试" in queue
        review = reviewer_client.get(f"/analyst/reviews/{draft_id}").get_data(as_text=True)
        assert (
            'data-element="Task_clerk_review"' in review
            and "网点审核（网页改）" in review
            and 'id="pf-approve"' in review
        )
        approved = _form_post(reviewer_client, f"/analyst/reviews/{draft_id}/approve", note="已核对")
        assert approved.status_code == 302 and approved.headers["Location"].endswith(
            "/analyst/bpmn/residence_registration"
        )
        with app.app_context():
            new = latest_process("residence_registration")
            assert (new.version, new.deployed_by) == (before + 1, "analyst02")
        versions = reviewer_client.get("/analyst/bpmn/residence_registration").get_data(as_text=True)
        assert "网页发布测试" in versions
        compare = reviewer_client.get(f"/analyst/bpmn/residence_registration/compare?old={before}&new={before + 1}")
        text = compare.get_data(as_text=True)
        assert (
            compare.status_code == 200 and 'data-element="Task_clerk_review"' in text and "网点审核（网页改）" in text
        )
        assert reviewer_client.get(f"/analyst/reviews/{draft_id}").status_code == 404  # no longer awaiting review
    finally:
        with app.app_context():
            deploy_sources(app.extensions["permitflow"], [("residence_registration.bpmn", SOURCE)], "tests", "restore")


def test_a_reviewer_sends_a_draft_back_with_a_reason(app, analyst_client, reviewer_client):
    opened = analyst_client.post("/analyst/bpmn/information_query/draft", data={"csrf_token": _csrf(analyst_client)})
    draft_url = opened.headers["Location"]
    draft_id = int(draft_url.rstrip("/").rsplit("/", 1)[1])
    xml = (BPMN_DIR / "information_query.bpmn").read_text(encoding="utf-8")
    changed = xml.replace('name="无记录"', 'name="无登记记录"')
    assert _post_json(analyst_client, draft_url + "/save", {"xml": changed}).status_code == 200
    submitted = _post_json(analyst_client, draft_url + "/submit", {"comment": "待退回"})
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    assert _form_post(reviewer_client, f"/analyst/reviews/{draft_id}/reject", reason="").status_code == 302
    assert _form_post(analyst_client, f"/analyst/reviews/{draft_id}/reject", reason="自己退回").status_code == 403
    back = _form_post(reviewer_client, f"/analyst/reviews/{draft_id}/reject", reason="请补充说明")
    assert back.status_code == 302 and back.headers["Location"].endswith("/analyst/reviews")
    page = analyst_client.get(draft_url).get_data(as_text=True)
    assert 'id="pf-rejected"' in page and "请补充说明" in page and 'id="pf-save"' in page


def test_a_draft_needs_the_design_permission_and_must_exist(app, analyst_client):
    opened = analyst_client.post("/analyst/bpmn/information_query/draft", data={"csrf_token": _csrf(analyst_client)})
    draft_url = opened.headers["Location"]
    other = app.test_client()
    sign_in(other, DEMO_LOGINS["data_operator"])
    assert other.get(draft_url).status_code == 403  # lacks process.design
    assert analyst_client.get(draft_url).status_code == 200
    assert analyst_client.get("/analyst/drafts/999999").status_code == 404


def test_vendored_assets_match_the_pinned_versions_and_load_from_our_server(app, analyst_client):
    root = Path(__file__).resolve().parents[2]
    pinned = json.loads((root / "frontend" / "package.json").read_text(encoding="utf-8"))["dependencies"]
    locked = json.loads((root / "frontend" / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    vendored = dict(
        line.split() for line in (root / "webapp/static/vendor/VERSIONS").read_text(encoding="utf-8").splitlines()
    )
    readme = (root / "webapp/static/vendor/README.md").read_text(encoding="utf-8")
    for name, version in pinned.items():
        assert locked[f"node_modules/{name}"]["version"] == version == vendored[name] and version in readme
    opened = analyst_client.post("/analyst/bpmn/information_query/draft", data={"csrf_token": _csrf(analyst_client)})
    page = analyst_client.get(opened.headers["Location"]).get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert any("bpmn-modeler" in a for a in assets) and not re.search(r'(?:src|href)="(?:https?:)?//', page)
    for asset in assets:
        assert analyst_client.get(asset).status_code == 200, asset
