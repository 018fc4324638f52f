"""Staff sign-in (S2): both factors, lockout, idle timeout, new session id, CSRF, cookies, password rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from models import AppUser, AuditLog, StaffSession, db, utcnow
from tests.webapp.auth_support import (
    DEMO_LOGINS,
    TEST_PASSWORD,
    csrf_token,
    demo_key,
    ensure_demo_user,
    latest_sms_code,
    sign_in,
    sign_out,
    submit_password,
    ukey_challenge,
)


def _events(app, username: str) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditLog.event, AuditLog.result).where(AuditLog.username == username).order_by(AuditLog.seq)
        ).all()
        return [tuple(r) for r in rows]


def test_sign_in_with_password_and_ukey_then_sign_out(app):
    client = app.test_client()
    sign_in(client, "clerk01")
    page = client.get("/")
    assert page.status_code == 200
    events = _events(app, "clerk01")
    assert ("auth.login", "ok") in events and ("auth.password_ok", "ok") in events
    sign_out(client)
    assert ("auth.logout", "ok") in _events(app, "clerk01")


def test_sign_in_with_sms_code(app):
    client = app.test_client()
    sign_in(client, "approver1", factor="sms")
    with app.app_context():
        row = db.session.execute(select(StaffSession).order_by(StaffSession.id.desc())).scalars().first()
        assert row.factor == "sms" and row.ended_at is None


def test_every_demo_role_can_sign_in(app):
    for role, username in DEMO_LOGINS.items():
        client = app.test_client()
        sign_in(client, username)
        with client.session_transaction() as session:
            assert session.get("sid"), role


def _user(app, username: str) -> AppUser:
    with app.app_context():
        return db.session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()


def _set_user(app, username: str, **values) -> None:
    """Change an account as the application would (re-sealed), e.g. to let time pass."""
    from processes.auth_integrity import seal

    with app.app_context():
        user = db.session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
        for name, value in values.items():
            setattr(user, name, value)
        seal(user)
        db.session.commit()


def test_five_wrong_passwords_lock_the_account_for_30_minutes(app):
    ensure_demo_user(app, "clerk01")
    earlier = _events(app, "clerk01").count(("auth.login", "fail"))  # the audit log spans the test session
    client = app.test_client()
    for _ in range(4):
        response = submit_password(client, "clerk01", "Wrong#Passw0rd")
        assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    # The fifth failure locks the account without saying so: only the right password learns of the lock.
    response = submit_password(client, "clerk01", "Wrong#Passw0rd")
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    response = submit_password(client, "clerk01", "Wrong#Passw0rd")
    assert "账号已锁定" not in response.get_data(as_text=True)
    locked_until = _user(app, "clerk01").locked_until
    assert timedelta(minutes=29) < locked_until - utcnow() <= timedelta(minutes=30)
    # Even the right password is refused while locked.
    response = submit_password(client, "clerk01", TEST_PASSWORD)
    assert response.status_code == 401 and "账号已锁定" in response.get_data(as_text=True)
    events = _events(app, "clerk01")
    assert events.count(("auth.login", "fail")) - earlier == 7 and ("auth.lockout", "fail") in events
    _set_user(app, "clerk01", locked_until=utcnow() - timedelta(seconds=1))  # 30 minutes later
    assert submit_password(client, "clerk01", TEST_PASSWORD).status_code == 302


def test_unknown_user_gets_the_same_answer_and_is_audited(app):
    client = app.test_client()
    response = submit_password(client, "nobody", "Whatever#123")
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    assert ("auth.login", "fail") in _events(app, "nobody")


def test_wrong_second_factors_count_towards_the_lockout(app):
    ensure_demo_user(app, "approver1")
    client = app.test_client()
    for n in range(5):
        assert submit_password(client, "approver1").status_code == 302
        ukey_challenge(client)
        response = client.post(
            "/login/verify", data={"method": "ukey", "signature": "3045" + "00" * 70, "csrf_token": csrf_token(client)}
        )
        assert response.status_code == 401, n
    assert _user(app, "approver1").locked_until is not None
    assert ("auth.lockout", "fail") in _events(app, "approver1")


def test_a_signature_by_another_key_or_over_another_challenge_fails(app):
    ensure_demo_user(app, "analyst01")
    client = app.test_client()
    submit_password(client, "analyst01")
    challenge = ukey_challenge(client)
    wrong_key = demo_key("clerk02").sign(bytes.fromhex(challenge)).hex()
    stale = demo_key("analyst01").sign(bytes.fromhex("00" * 32)).hex()
    for signature in (wrong_key, stale):
        response = client.post(
            "/login/verify", data={"method": "ukey", "signature": signature, "csrf_token": csrf_token(client)}
        )
        assert response.status_code == 401 and "UKey签名验证失败" in response.get_data(as_text=True)
    good = demo_key("analyst01").sign(bytes.fromhex(challenge)).hex()
    response = client.post(
        "/login/verify", data={"method": "ukey", "signature": good, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302


def test_sms_code_is_hashed_expires_and_allows_few_attempts(app):
    from models import LoginAttempt

    ensure_demo_user(app, "caller01")
    client = app.test_client()
    submit_password(client, "caller01")
    assert client.post("/login/sms", data={"csrf_token": csrf_token(client)}).status_code == 302
    code = latest_sms_code(app, "caller01")
    with app.app_context():
        attempt = db.session.execute(select(LoginAttempt).order_by(LoginAttempt.id.desc())).scalars().first()
        assert attempt.code_digest and code not in attempt.code_digest and len(attempt.code_digest) == 64
        assert timedelta(minutes=4) < attempt.code_expires_at - utcnow() <= timedelta(minutes=5)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(3):
        response = client.post("/login/verify", data={"method": "sms", "code": wrong, "csrf_token": csrf_token(client)})
        assert response.status_code == 401 and "验证码不正确" in response.get_data(as_text=True)
    # The code is void after three wrong entries, even the right one.
    response = client.post("/login/verify", data={"method": "sms", "code": code, "csrf_token": csrf_token(client)})
    assert "验证码错误次数过多" in response.get_data(as_text=True)


def test_an_expired_sms_code_is_refused(app):
    from models import LoginAttempt

    ensure_demo_user(app, "caller01")
    client = app.test_client()
    submit_password(client, "caller01")
    client.post("/login/sms", data={"csrf_token": csrf_token(client)})
    code = latest_sms_code(app, "caller01")
    with app.app_context():
        db.session.execute(update(LoginAttempt).values(code_expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = client.post("/login/verify", data={"method": "sms", "code": code, "csrf_token": csrf_token(client)})
    assert response.status_code == 401 and "验证码已过期" in response.get_data(as_text=True)


def test_sign_in_issues_a_new_session_id_and_csrf_token(app):
    client = app.test_client()
    with client.session_transaction() as session:
        session["sid"] = "planted-by-an-attacker"
        session["csrf"] = "old-csrf"
    sign_in(client, "clerk02")
    with client.session_transaction() as session:
        assert session["sid"] != "planted-by-an-attacker" and session.get("csrf") != "old-csrf"


def test_sign_out_ends_the_server_side_session(app):
    client = app.test_client()
    sign_in(client, "clerk01")
    with client.session_transaction() as session:
        stolen = session["sid"]
    sign_out(client)
    replay = app.test_client()
    with replay.session_transaction() as session:
        session["sid"] = stolen
    response = replay.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_thirty_idle_minutes_end_the_session(app):
    client = app.test_client()
    sign_in(client, "secadmin")
    assert client.get("/admin/users").status_code == 200
    with app.app_context():
        db.session.execute(update(StaffSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
        db.session.commit()
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    with app.app_context():
        row = db.session.execute(select(StaffSession)).scalars().first()
        assert row.end_reason == "idle" and row.ended_at is not None
    assert ("auth.timeout", "ok") in _events(app, "secadmin")
    assert "会话已超时" in client.get("/login").get_data(as_text=True)


def test_every_form_post_needs_the_csrf_token(app):
    client = app.test_client()
    sign_in(client, "secadmin")
    response = client.post("/logout")
    assert response.status_code == 400 and "CSRF_FAILED" in response.get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert client.get("/admin/users").status_code == 200  # still signed in
    assert client.post("/logout", headers={"X-CSRF-Token": csrf_token(client)}).status_code == 302
    anonymous = app.test_client()
    assert anonymous.post("/login", data={"username": "x", "password": "y"}).status_code == 400


def test_the_channel_api_needs_no_csrf_token(app):
    response = app.test_client().post("/api/v1/processes/residence_registration/instances", json={})
    assert response.status_code == 401  # API key missing, not a CSRF refusal
    assert response.get_json()["code"] != "CSRF_FAILED"


def test_session_cookie_is_httponly_and_samesite(app):
    response = app.test_client().get("/login")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_production_cookies_are_secure(make_app):
    from dataclasses import replace

    from webapp.auth import init_auth

    app = make_app()
    production = replace(app.config["PERMITFLOW_SETTINGS"], PERMITFLOW_ENV="production")
    from flask import Flask

    probe = Flask("probe")
    probe.config.update(PERMITFLOW_SETTINGS=production, SECRET_KEY="x" * 32)
    init_auth(probe)
    assert probe.config["SESSION_COOKIE_SECURE"] is True and probe.config["SESSION_COOKIE_HTTPONLY"] is True


def test_pages_need_sign_in_and_permission(app):
    anonymous = app.test_client()
    response = anonymous.get("/audit?event=auth.login")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    client = app.test_client()
    sign_in(client, "clerk01")
    response = client.get("/audit")
    assert response.status_code == 403 and "没有执行此操作的权限" in response.get_data(as_text=True)
    assert ("access.denied", "denied") in _events(app, "clerk01")


@pytest.mark.parametrize("target", ["//evil.example/x", "/\t/evil.example/x", "/\\evil.example/x"])
def test_next_never_leaves_the_site(app, target):
    from tests.webapp.auth_support import ensure_demo_user as ensure

    ensure(app, "secadmin")
    client = app.test_client()
    client.post(
        "/login",
        data={
            "username": "secadmin",
            "password": TEST_PASSWORD,
            "next": target,
            "csrf_token": csrf_token(client),
        },
    )
    signature = demo_key("secadmin").sign(bytes.fromhex(ukey_challenge(client))).hex()
    response = client.post(
        "/login/verify", data={"method": "ukey", "signature": signature, "csrf_token": csrf_token(client)}
    )
    assert response.headers["Location"] == "/"


def test_expired_password_must_be_changed_first(app):
    client = app.test_client()
    sign_in(client, "analyst01")
    _set_user(app, "analyst01", password_changed_at=utcnow() - timedelta(days=91))
    response = client.get("/audit")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/password")
    page = client.get("/account/password").get_data(as_text=True)
    assert "密码已过期" in page
    weak = client.post(
        "/account/password",
        data={
            "current_password": TEST_PASSWORD,
            "new_password": "short",
            "confirm": "short",
            "csrf_token": csrf_token(client),
        },
    )
    assert weak.status_code == 422 and "密码长度至少10位" in weak.get_data(as_text=True)
    same = client.post(
        "/account/password",
        data={
            "current_password": TEST_PASSWORD,
            "new_password": TEST_PASSWORD,
            "confirm": TEST_PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert same.status_code == 422 and "最近5次" in same.get_data(as_text=True)
    good = client.post(
        "/account/password",
        data={
            "current_password": TEST_PASSWORD,
            "new_password": "Fresh#Passw0rd-9",
            "confirm": "Fresh#Passw0rd-9",
            "csrf_token": csrf_token(client),
        },
    )
    assert good.status_code == 302
    assert client.get("/audit").status_code == 403  # now the ordinary permission check applies
    assert ("auth.password_change", "ok") in _events(app, "analyst01")


def test_the_software_ukey_page_signs_for_demos_only(app):
    from dataclasses import replace

    from integrations.crypto import SM2PrivateKey
    from processes.platform import get_platform

    key = SM2PrivateKey.generate()
    client = app.test_client()
    challenge = "cd" * 32
    page = client.post(
        "/ukey",
        data={"challenge": challenge, "key_pem": key.to_pem().decode(), "csrf_token": csrf_token(client)},
    ).get_data(as_text=True)
    import re

    signature = re.search(r'id="ukey-signature">([0-9a-f]+)<', page).group(1)
    assert key.public_key().verify(bytes.fromhex(challenge), bytes.fromhex(signature))
    platform = get_platform(app)
    original = platform.settings
    platform.settings = replace(original, PERMITFLOW_ENV="production")
    try:
        assert client.get("/ukey").status_code == 404
    finally:
        platform.settings = original


def test_tampered_sign_in_data_is_detected(app):
    """A role raised in SQL (behind the application's back) stops both sign-in and the live session."""
    from sqlalchemy import text

    from processes.auth_integrity import intact

    client = app.test_client()
    sign_in(client, "clerk01")
    assert client.get("/account/password").status_code == 200
    with app.app_context():
        db.session.execute(text("UPDATE app_user SET role = 'secadmin' WHERE username = 'clerk01'"))
        db.session.commit()
        assert not intact(db.session.execute(select(AppUser).where(AppUser.username == "clerk01")).scalar_one())
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    again = submit_password(app.test_client(), "clerk01", TEST_PASSWORD)
    assert again.status_code == 401 and "完整性校验未通过" in again.get_data(as_text=True)
    events = _events(app, "clerk01")
    assert ("auth.integrity", "fail") in events and ("auth.login", "fail") in events
    # The operator puts the role back and re-seals the reviewed account on the server (the admin pages refuse
    # to save a tampered row: see test_auth_hardening).
    from processes.users import reseal

    with app.app_context():
        db.session.execute(text("UPDATE app_user SET role = 'clerk' WHERE username = 'clerk01'"))
        db.session.commit()
        reseal(db.session.execute(select(AppUser.id).where(AppUser.username == "clerk01")).scalar_one())
    assert submit_password(app.test_client(), "clerk01", TEST_PASSWORD).status_code == 302
