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
    """Enforced in the service, whoever calls it (here the operator's CLI path, by=None)."""
    import pytest

    from processes.errors import Conflict
    from processes.platform import get_platform
    from processes.users import create_user, update_user

    ensure_demo_user(app, "auditadmin")
    mobile = _user(app, "auditadmin").mobile
    with app.app_context():
        settings = get_platform().settings
        # The same person (the audit administrator's mobile) cannot also become system administrator.
        with pytest.raises(Conflict, match="三员角色不能兼任"):
            create_user(
                settings, {"username": "sys2", "display_name": "系统二", "role": "sysadmin", "mobile": mobile}, by=None
            )
        # An administrator account never changes to another role.
        auditor = _user(app, "auditadmin")
        with pytest.raises(Conflict):
            update_user(auditor.id, {"display_name": "审计管理员", "role": "secadmin", "mobile": mobile}, by=None)
    assert _user(app, "auditadmin").role == "auditadmin"


def _denials(app) -> list[str]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditLog.details).where(AuditLog.event == "access.denied").order_by(AuditLog.seq)
        ).scalars()
        return list(rows)


def test_administrator_accounts_are_changed_on_the_server_only(app):
    """One security administrator cannot create, reset, re-key or edit an administrator account alone."""
    ensure_demo_user(app, "auditadmin")
    client = _admin(app)
    auditor = _user(app, "auditadmin")
    before = len(_denials(app))
    made = _create(client, username="sys2", role="sysadmin", mobile="13912340000", district="", service_point="")
    assert made.status_code == 403 and "permitflow users" in made.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(AppUser).where(AppUser.username == "sys2")).first() is None
    token = {"csrf_token": csrf_token(client)}
    assert client.post(f"/admin/users/{auditor.id}/reset", data=token).status_code == 403
    key = SM2PrivateKey.generate().public_key().to_pem().decode()
    assert client.post(f"/admin/users/{auditor.id}/ukey", data={"public_key": key, **token}).status_code == 403
    edit = {"display_name": "审计管理员", "role": "auditadmin", "mobile": "13912349999", "active": "1", **token}
    assert client.post(f"/admin/users/{auditor.id}", data=edit).status_code == 403
    after = _user(app, "auditadmin")
    assert (after.password_hash, after.ukey_public_key, after.mobile) == (
        auditor.password_hash,
        auditor.ukey_public_key,
        auditor.mobile,
    )
    denials = _denials(app)[before:]
    assert len(denials) == 4 and all('"alert":"auditadmin"' in d and "ADMIN_ACCOUNT_CLI_ONLY" in d for d in denials)
    # Disabling a (possibly compromised) administrator account needs no second person.
    off = {"display_name": auditor.display_name, "role": "auditadmin", "mobile": auditor.mobile, "active": "0", **token}
    assert client.post(f"/admin/users/{auditor.id}", data=off).status_code == 302
    assert _user(app, "auditadmin").active is False


def test_nobody_edits_their_own_account_on_the_admin_pages(app):
    client = _admin(app)
    me = _user(app, "secadmin")
    token = {"csrf_token": csrf_token(client)}
    assert client.post(f"/admin/users/{me.id}/reset", data=token).status_code == 403
    assert client.post(f"/admin/users/{me.id}/unlock", data=token).status_code == 403
    assert any("OWN_ACCOUNT" in d for d in _denials(app))


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
