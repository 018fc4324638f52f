"""Security administrator's account pages: create, one role, separate administrators, reset, unlock, UKey."""

from __future__ import annotations

import re

from sqlalchemy import select

from integrations.crypto import SM2PrivateKey
from models import AppUser, AuditLog, db
from tests.webapp.auth_support import csrf_token, ensure_demo_user, sign_in, submit_password


def _user(app, username: str) -> AppUser:
    with app.app_context():
        return db.session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()


def _admin(app):
    client = app.test_client()
    sign_in(client, "secadmin")
    return client


def _create(client, **fields):
    data = {
        "username": "newclerk",
        "display_name": "新受理员",
        "role": "clerk",
        "district": "徐汇区",
        "service_point": "XH-TL-02",
        "mobile": "13900009999",
    }
    data.update(fields)
    return client.post("/admin/users/new", data={**data, "csrf_token": csrf_token(client)})


def test_only_the_security_administrator_manages_accounts(app):
    for username in ("sysadmin", "auditadmin", "clerk01"):
        client = app.test_client()
        sign_in(client, username)
        assert client.get("/admin/users").status_code == 403, username
        assert _create(client).status_code == 403, username
    page = _admin(app).get("/admin/users").get_data(as_text=True)
    assert "secadmin" in page and "用户管理" in page


def test_a_new_account_gets_a_one_time_password_it_must_change(app):
    client = _admin(app)
    response = _create(client)
    assert response.status_code == 200
    initial = re.search(r'id="initial-password">([^<]+)<', response.get_data(as_text=True)).group(1)
    user = _user(app, "newclerk")
    assert user.must_change_password and user.role == "clerk" and user.district == "徐汇区"
    with app.app_context():
        created = db.session.execute(
            select(AuditLog).where(AuditLog.event == "user.create").order_by(AuditLog.seq.desc()).limit(1)
        ).scalar_one()
        assert (created.username, created.object_id) == ("secadmin", "newclerk")
        assert initial not in created.details
    # First sign-in: the password is right; every page then leads to the password change.
    newcomer = app.test_client()
    assert submit_password(newcomer, "newclerk", initial).status_code == 302


def test_bad_input_is_a_chinese_422(app):
    client = _admin(app)
    response = _create(client, username="X!", role="clerk", district="", mobile="123")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "用户名须为" in body and "网点受理员必须指定所属区和受理网点" in body and "手机号码应为11位" in body


def test_the_three_administrators_stay_separate(app):
    ensure_demo_user(app, "auditadmin")
    client = _admin(app)
    # The same person (the audit administrator's mobile) cannot also become system administrator.
    mobile = _user(app, "auditadmin").mobile
    response = _create(client, username="sys2", role="sysadmin", mobile=mobile, district="", service_point="")
    assert response.status_code == 409 and "三员角色不能兼任" in response.get_data(as_text=True)
    # An administrator account never changes to another role.
    auditor = _user(app, "auditadmin")
    response = client.post(
        f"/admin/users/{auditor.id}",
        data={"display_name": "审计管理员", "role": "secadmin", "active": "1", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 409 and _user(app, "auditadmin").role == "auditadmin"


def test_reset_unlock_and_ukey_registration(app):
    from datetime import timedelta

    from sqlalchemy import update

    from models import utcnow

    ensure_demo_user(app, "clerk02")
    with app.app_context():
        db.session.execute(
            update(AppUser).where(AppUser.username == "clerk02").values(locked_until=utcnow() + timedelta(minutes=30))
        )
        db.session.commit()
    client = _admin(app)
    target = _user(app, "clerk02")
    assert client.post(f"/admin/users/{target.id}/unlock", data={"csrf_token": csrf_token(client)}).status_code == 302
    assert _user(app, "clerk02").locked_until is None
    reset = client.post(f"/admin/users/{target.id}/reset", data={"csrf_token": csrf_token(client)})
    assert reset.status_code == 200 and _user(app, "clerk02").must_change_password
    key = SM2PrivateKey.generate()
    bad = client.post(
        f"/admin/users/{target.id}/ukey", data={"public_key": "not a key", "csrf_token": csrf_token(client)}
    )
    assert bad.status_code == 302 and _user(app, "clerk02").ukey_public_key != "not a key"
    good = client.post(
        f"/admin/users/{target.id}/ukey",
        data={"public_key": key.public_key().to_pem().decode(), "csrf_token": csrf_token(client)},
    )
    assert good.status_code == 302
    assert _user(app, "clerk02").ukey_public_key == key.public_key().to_pem().decode()
    with app.app_context():
        events = set(db.session.execute(select(AuditLog.event).where(AuditLog.object_id == "clerk02")).scalars())
    assert {"user.unlock", "user.reset_password", "user.register_ukey"} <= events
