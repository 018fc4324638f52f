"""SMS API (B2, B3): templates, test messages, message list and history for ops; the signed delivery webhook."""

from __future__ import annotations

import pytest

from processes.sms import callback_signature
from tests.sms_support import SECRET, drain_app, fresh_person, message_row
from tests.support import register_key, sim_calls

TEMPLATES = "/api/v1/sms/templates"
MESSAGES = "/api/v1/sms/messages"
CALLBACK = "/api/v1/callbacks/sms"


@pytest.fixture
def client(sms_app):
    return sms_app.test_client()


@pytest.fixture
def ops(sms_app):
    return {"X-Api-Key": register_key(sms_app, kind="ops")}


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code and body["message"] and "details" in body
    return body


def _send(client, headers, p, **body):
    payload = {"template_code": "REG_SUBMITTED", "mobile": p.mobile, "params": {"name": p.name, "business_no": "DJ1"}}
    return client.post(MESSAGES, headers=headers, json={**payload, **body})


def test_b2_401_without_a_key_and_403_for_a_channel(sms_app, client):
    channel = {"X-Api-Key": register_key(sms_app)}
    for method, path in [
        ("get", TEMPLATES),
        ("get", TEMPLATES + "/CARD_READY"),
        ("put", TEMPLATES + "/CARD_READY"),
        ("get", MESSAGES),
        ("post", MESSAGES),
        ("get", MESSAGES + "/1"),
    ]:
        _error(getattr(client, method)(path), 401, "API_KEY_MISSING")
        _error(getattr(client, method)(path, headers=channel, json={}), 403, "OPS_ONLY")


def test_b3_templates_are_listed_read_created_and_changed(client, ops):
    items = client.get(TEMPLATES, headers=ops).get_json()["items"]
    assert len(items) == 9 and {"code", "name", "body", "placeholders", "active", "version"} <= set(items[0])
    assert client.get(TEMPLATES + "/CARD_READY", headers=ops).get_json()["placeholders"] == ["name", "office"]
    _error(client.get(TEMPLATES + "/NO_SUCH", headers=ops), 404, "SMS_TEMPLATE_NOT_FOUND")
    created = client.put(
        TEMPLATES + "/PHOTO_RETAKE",
        headers=ops,
        json={"name": "照片重拍通知", "body": "【上海居住证】{name}您好，请到{office}重拍照片。"},
    )
    assert created.status_code == 201 and created.get_json()["placeholders"] == ["name", "office"]
    changed = client.put(TEMPLATES + "/PHOTO_RETAKE", headers=ops, json={"active": False, "expected_version": 1})
    assert changed.status_code == 200 and changed.get_json()["version"] == 2 and not changed.get_json()["active"]
    stale = _error(
        client.put(TEMPLATES + "/PHOTO_RETAKE", headers=ops, json={"active": True, "expected_version": 1}),
        409,
        "SMS_TEMPLATE_VERSION_CONFLICT",
    )
    assert stale["details"]["current_version"] == 2


def test_b3_an_invalid_template_is_422_with_each_problem_and_changes_nothing(client, ops):
    body = _error(
        client.put(TEMPLATES + "/CARD_READY", headers=ops, json={"body": "{name}您好，请到{place}领取{"}),
        422,
        "SMS_TEMPLATE_INVALID",
    )
    assert [p["code"] for p in body["details"]["problems"]] == ["UNBALANCED_BRACE", "UNKNOWN_PLACEHOLDER"]
    assert client.get(TEMPLATES + "/CARD_READY", headers=ops).get_json()["version"] == 1
    _error(
        client.put(TEMPLATES + "/CARD_READY", headers=ops, data="[1]", content_type="application/json"),
        400,
        "BODY_NOT_OBJECT",
    )


def test_b2_test_message_is_sent_listed_masked_and_shown_with_history(sms_app, client, ops, simulator):
    p = fresh_person()
    sent = _send(client, {**ops, "Idempotency-Key": "ops-test-1"}, p, business_key="BK-API-1")
    assert sent.status_code == 202 and sent.get_json()["status"] in ("queued", "sent")
    replay = _send(client, {**ops, "Idempotency-Key": "ops-test-1"}, p, business_key="BK-API-1")
    assert replay.status_code == 200 and replay.get_json()["id"] == sent.get_json()["id"]
    _error(
        _send(client, {**ops, "Idempotency-Key": "ops-test-1"}, p, params={"name": p.name, "business_no": "X"}),
        409,
        "SMS_DEDUPE_CONFLICT",
    )
    drain_app(sms_app)
    page = client.get(f"{MESSAGES}?mobile={p.mobile}&status=sent&per_page=5", headers=ops)
    assert page.status_code == 200, page.get_json()
    listed = page.get_json()
    assert (listed["total"], listed["page"], listed["per_page"]) == (1, 1, 5)
    item = listed["items"][0]
    assert item["mobile"] == p.mobile[:3] + "****" + p.mobile[-4:] and "body" not in item
    assert p.mobile not in page.get_data(as_text=True)
    detail = client.get(f"{MESSAGES}/{item['id']}", headers=ops).get_json()
    assert [(h["status"], h["source"]) for h in detail["history"]] == [("queued", "request"), ("sent", "job")]
    assert p.name in detail["body"] and p.mobile not in str(detail)
    assert client.get(f"{MESSAGES}?business_key=BK-OTHER", headers=ops).get_json()["total"] == 0
    assert sim_calls(simulator, "sms.send") == 1


def test_b2_message_errors_are_specific(client, ops):
    p = fresh_person()
    bad = _error(_send(client, ops, p, mobile="1234"), 422, "SMS_REQUEST_INVALID")
    assert "mobile" in bad["details"]["fields"]
    missing = _error(_send(client, ops, p, params={"name": p.name}), 422, "SMS_PARAMS_INVALID")
    assert missing["details"]["problems"][0]["param"] == "business_no"
    _error(_send(client, ops, p, template_code="NO_SUCH"), 404, "SMS_TEMPLATE_NOT_FOUND")
    _error(client.get(f"{MESSAGES}/999999", headers=ops), 404, "SMS_MESSAGE_NOT_FOUND")
    _error(client.get(f"{MESSAGES}?status=lost", headers=ops), 400, "BAD_FILTER")
    _error(client.get(f"{MESSAGES}?mobile=12", headers=ops), 400, "BAD_FILTER")
    _error(client.get(f"{MESSAGES}?page=0", headers=ops), 400, "BAD_PAGING")
    assert client.get(MESSAGES, headers=ops).get_json()["total"] == 0  # nothing half-written


def test_b2_delivery_webhook_needs_the_message_signature(sms_app, client, ops):
    p = fresh_person()
    message_id = _send(client, ops, p).get_json()["id"]
    drain_app(sms_app)
    row = message_row(sms_app, message_id)
    report = {
        "msg_id": row.platform_msg_id,
        "client_msg_id": row.client_msg_id,
        "status": "delivered",
        "error_code": None,
        "reported_at": "2026-11-29T08:00:00+00:00",
    }
    good = callback_signature(SECRET, row.client_msg_id)
    _error(client.post(CALLBACK, json=report), 401, "SMS_CALLBACK_UNAUTHORIZED")
    _error(
        client.post(f"{CALLBACK}?sig={callback_signature(SECRET, 'pf-other')}", json=report),
        401,
        "SMS_CALLBACK_UNAUTHORIZED",
    )
    _error(
        client.post(f"{CALLBACK}?sig={callback_signature('guessed-secret-0000', row.client_msg_id)}", json=report),
        401,
        "SMS_CALLBACK_UNAUTHORIZED",
    )
    _error(client.post(f"{CALLBACK}?sig={good}", json={**report, "status": "lost"}), 422, "SMS_REPORT_INVALID")
    unknown = {**report, "client_msg_id": "pf-unknown"}
    _error(
        client.post(f"{CALLBACK}?sig={callback_signature(SECRET, 'pf-unknown')}", json=unknown),
        404,
        "SMS_MESSAGE_NOT_FOUND",
    )
    accepted = client.post(f"{CALLBACK}?sig={good}", json=report)
    assert accepted.status_code == 200 and accepted.get_json()["applied"] is True
    assert client.post(f"{CALLBACK}?sig={good}", json=report).get_json()["applied"] is False  # repeated report
    delivered = message_row(sms_app, message_id)
    assert delivered.status == "delivered" and delivered.final_at.isoformat() == "2026-11-29T08:00:00+00:00"


def test_b2_openapi_documents_the_sms_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {
        "/sms/templates",
        "/sms/templates/{code}",
        "/sms/messages",
        "/sms/messages/{message_id}",
        "/callbacks/sms",
    } <= set(paths)
