"""Security gateway (S3): only signed requests from the gateway's addresses; the gateway's user and certificate."""

from __future__ import annotations

import secrets
import time
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import select

from models import AuditLog, StaffSession, db
from tests.webapp.auth_support import TEST_PASSWORD, csrf_token, demo_key, ensure_demo_user
from webapp.auth.gateway import gateway_signature

KEY = "gateway-shared-key-for-tests-0123456789"
GATEWAY_IP = "10.9.8.7"


@pytest.fixture
def gw_app(app, make_app):
    """An app in gateway mode on the test database (the `app` fixture cleans up after it)."""
    return make_app(GATEWAY_REQUIRED=True, GATEWAY_SHARED_KEY=KEY, GATEWAY_PROXIES=f"{GATEWAY_IP},10.20.0.0/16")


CLIENT_IP = "203.0.113.9"


def _headers(
    method: str,
    path: str,
    user: str = "",
    cert: str = "",
    *,
    body: bytes = b"",
    ts: int | None = None,
    key: str = KEY,
    nonce: str | None = None,
    client_ip: str = CLIENT_IP,
):
    stamp = str(int(time.time()) if ts is None else ts)
    encoded = quote(cert, safe="")
    nonce = nonce or secrets.token_hex(16)
    return {
        "X-Gateway-Timestamp": stamp,
        "X-Gateway-User": user,
        "X-Gateway-Cert": encoded,
        "X-Gateway-Nonce": nonce,
        "X-Gateway-Client-IP": client_ip,
        "X-Gateway-Signature": gateway_signature(key, method, path, body, stamp, nonce, user, encoded, client_ip),
    }


def _form(client, path: str, fields: dict, user: str = "", cert: str = ""):
    """POST a form with the body the gateway signed."""
    body = urlencode(fields).encode()
    return client.post(
        path,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=_headers("POST", path, user, cert, body=body),
    )


def _client(app, ip: str = GATEWAY_IP):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def test_a_signed_request_from_the_gateway_is_served(gw_app):
    response = _client(gw_app).get("/login", headers=_headers("GET", "/login"))
    assert response.status_code == 200 and "工作人员登录" in response.get_data(as_text=True)
    # Any address of a configured gateway network counts.
    assert _client(gw_app, "10.20.3.4").get("/login", headers=_headers("GET", "/login")).status_code == 200


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("missing signature", "GATEWAY_SIGNATURE_MISSING"),
        ("bad signature", "GATEWAY_SIGNATURE_INVALID"),
        ("wrong source address", "GATEWAY_SOURCE"),
        ("stale timestamp", "GATEWAY_TIMESTAMP"),
        ("signature for another path", "GATEWAY_SIGNATURE_INVALID"),
    ],
)
def test_direct_or_forged_requests_are_refused_with_a_chinese_page(gw_app, case, code):
    ip, headers = GATEWAY_IP, _headers("GET", "/login")
    if case == "missing signature":
        headers.pop("X-Gateway-Signature")
    elif case == "bad signature":
        headers = _headers("GET", "/login", key="not-the-shared-key-not-the-shared-key")
    elif case == "wrong source address":
        ip = "192.168.1.50"
    elif case == "stale timestamp":
        headers = _headers("GET", "/login", ts=int(time.time()) - 120)
    else:
        headers = _headers("GET", "/admin/users")
    response = _client(gw_app, ip).get("/login", headers=headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 403 and "请通过安全网关访问本系统" in body and code in body
    with gw_app.app_context():
        last = db.session.execute(select(AuditLog).order_by(AuditLog.seq.desc()).limit(1)).scalar_one()
        assert (last.event, last.result, last.object_id) == ("gateway.refused", "denied", "/login")


def test_the_api_gets_a_json_refusal_and_probes_stay_open(gw_app):
    response = _client(gw_app, "192.168.1.50").get("/api/v1/openapi.json")
    assert response.status_code == 403 and response.get_json()["code"] == "GATEWAY_SOURCE"
    assert "安全网关" in response.get_json()["message"]
    assert _client(gw_app, "192.168.1.50").get("/healthz").status_code == 200


def test_the_gateway_certificate_is_the_second_factor(gw_app):
    ensure_demo_user(gw_app, "approver2")
    cert = demo_key("approver2").public_key().to_pem().decode()
    client = _client(gw_app)
    client.get("/login", headers=_headers("GET", "/login", "approver2", cert))
    response = _form(
        client,
        "/login",
        {"username": "approver2", "password": TEST_PASSWORD, "csrf_token": csrf_token(client)},
        "approver2",
        cert,
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"
    with gw_app.app_context():
        assert db.session.execute(select(StaffSession.factor)).scalar_one() == "gateway"
    # The session is only good while the gateway keeps vouching for the same user.
    assert client.get("/", headers=_headers("GET", "/", "approver2", cert)).status_code == 200
    other = client.get("/account/password", headers=_headers("GET", "/account/password", "clerk01", ""))
    assert other.status_code == 302 and "/login" in other.headers["Location"]


def test_a_certificate_that_is_not_the_users_falls_back_to_the_second_factor(gw_app):
    ensure_demo_user(gw_app, "approver2")
    stranger = demo_key("someone-else").public_key().to_pem().decode()
    client = _client(gw_app)
    client.get("/login", headers=_headers("GET", "/login", "approver2", stranger))
    response = _form(
        client,
        "/login",
        {"username": "approver2", "password": TEST_PASSWORD, "csrf_token": csrf_token(client)},
        "approver2",
        stranger,
    )
    assert response.status_code == 302 and "/login/factor" in response.headers["Location"]


def test_signing_in_as_another_user_than_the_gateway_says_is_refused(gw_app):
    ensure_demo_user(gw_app, "approver2")
    client = _client(gw_app)
    client.get("/login", headers=_headers("GET", "/login", "clerk01", ""))
    response = _form(
        client,
        "/login",
        {"username": "approver2", "password": TEST_PASSWORD, "csrf_token": csrf_token(client)},
        "clerk01",
        "",
    )
    assert response.status_code == 401 and "安全网关认证的用户不一致" in response.get_data(as_text=True)


def test_gateway_mode_needs_a_key_and_addresses():
    from config import ConfigError, Settings

    with pytest.raises(ConfigError, match="GATEWAY_SHARED_KEY"):
        Settings.from_env(environ={}, GATEWAY_REQUIRED=True, GATEWAY_PROXIES="10.0.0.1")
    with pytest.raises(ConfigError, match="GATEWAY_PROXIES"):
        Settings.from_env(environ={}, GATEWAY_REQUIRED=True, GATEWAY_SHARED_KEY=KEY)
    with pytest.raises(ConfigError, match="GATEWAY_PROXIES"):
        Settings.from_env(environ={}, GATEWAY_PROXIES="not-an-address")


def test_query_string_body_and_replays_are_covered(gw_app):
    client = _client(gw_app)
    signed = _headers("GET", "/login?next=/inbox")
    assert client.get("/login?next=/inbox", headers=signed).status_code == 200
    # The same signed request again is a replay, whatever the path.
    replay = client.get("/login?next=/inbox", headers=signed)
    assert replay.status_code == 403 and "GATEWAY_REPLAY" in replay.get_data(as_text=True)
    # Another query string under a signature made for the path alone.
    changed = client.get("/login?next=/admin/users", headers=_headers("GET", "/login"))
    assert changed.status_code == 403 and "GATEWAY_SIGNATURE_INVALID" in changed.get_data(as_text=True)
    # A body other than the one signed.
    body = urlencode({"username": "clerk01", "password": "x"}).encode()
    headers = _headers("POST", "/login", body=body)
    other = client.post(
        "/login", data=body + b"&x=1", content_type="application/x-www-form-urlencoded", headers=headers
    )
    assert other.status_code == 403 and "GATEWAY_SIGNATURE_INVALID" in other.get_data(as_text=True)
    missing_nonce = _headers("GET", "/login")
    missing_nonce.pop("X-Gateway-Nonce")
    assert client.get("/login", headers=missing_nonce).status_code == 403


def test_the_signed_client_address_is_audited_not_the_gateways(gw_app):
    ensure_demo_user(gw_app, "approver2")
    cert = demo_key("approver2").public_key().to_pem().decode()
    client = _client(gw_app)
    fields = {"username": "approver2", "password": TEST_PASSWORD, "csrf_token": csrf_token(client)}
    assert _form(client, "/login", fields, "approver2", cert).status_code == 302
    with gw_app.app_context():
        assert db.session.execute(select(StaffSession.ip)).scalar_one() == CLIENT_IP
        last = db.session.execute(select(AuditLog).order_by(AuditLog.seq.desc()).limit(1)).scalar_one()
        assert (last.event, last.ip) == ("auth.login", CLIENT_IP)


def test_production_without_the_gateway_does_not_start():
    from config import ConfigError, Settings

    base = {
        "PERMITFLOW_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "DATABASE_URL": "postgresql+psycopg://x/y",
        "PERMITFLOW_MASTER_KEY": "ab" * 16,
    }
    with pytest.raises(ConfigError, match="GATEWAY_REQUIRED"):
        Settings.from_env(environ={}, **base)
    settings = Settings.from_env(
        environ={}, **base, GATEWAY_REQUIRED=True, GATEWAY_SHARED_KEY=KEY, GATEWAY_PROXIES=GATEWAY_IP
    )
    assert settings.GATEWAY_REQUIRED
