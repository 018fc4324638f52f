"""Review fixes on sign-in data: the UKey key is sealed, tampered rows are not re-sealed, 403s are audited once."""

from __future__ import annotations

from flask import abort
from sqlalchemy import select, text

from integrations.crypto import SM2PrivateKey
from models import AppUser, AuditLog, db
from processes.errors import Forbidden
from tests.webapp.auth_support import (
    TEST_PASSWORD,
    csrf_token,
    ensure_demo_user,
    sign_in,
    submit_password,
    ukey_challenge,
)


def _events(app, username: str | None = None) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        query = select(AuditLog.event, AuditLog.result, AuditLog.object_id).order_by(AuditLog.seq)
        if username:
            query = query.where(AuditLog.username == username)
        return [tuple(r) for r in db.session.execute(query).all()]


def test_a_ukey_key_replaced_in_sql_is_refused_at_sign_in(app):
    """The attacker's own key written over the registered one breaks the seal: no sign-in with it."""
    ensure_demo_user(app, "clerk01")
    mallory = SM2PrivateKey.generate()
    with app.app_context():
        db.session.execute(
            text("UPDATE app_user SET ukey_public_key = :pem WHERE username = 'clerk01'"),
            {"pem": mallory.public_key().to_pem().decode()},
        )
        db.session.commit()
    client = app.test_client()
    refused = submit_password(client, "clerk01", TEST_PASSWORD)
    assert refused.status_code == 401 and "完整性校验未通过" in refused.get_data(as_text=True)
    assert ("auth.login", "fail", None) in _events(app, "clerk01")


def test_ukey_fingerprint_must_match_the_key(app):
    """Even with a valid seal (e.g. key and seal forged together elsewhere), verify_ukey checks the fingerprint."""
    from processes.auth_integrity import seal

    ensure_demo_user(app, "clerk01")
    client = app.test_client()
    assert submit_password(client, "clerk01", TEST_PASSWORD).status_code == 302
    challenge = ukey_challenge(client)
    mallory = SM2PrivateKey.generate()
    with app.app_context():
        user = db.session.execute(select(AppUser).where(AppUser.username == "clerk01")).scalar_one()
        user.ukey_public_key = mallory.public_key().to_pem().decode()  # fingerprint left as the real key's
        seal(user)
        db.session.commit()
    signature = mallory.sign(bytes.fromhex(challenge)).hex()
    response = client.post(
        "/login/verify", data={"method": "ukey", "signature": signature, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 401 and "UKey签名验证失败" in response.get_data(as_text=True)


def test_update_user_refuses_a_tampered_row(app):
    ensure_demo_user(app, "clerk01")
    with app.app_context():
        db.session.execute(text("UPDATE app_user SET role = 'secadmin' WHERE username = 'clerk01'"))
        db.session.commit()
        user_id = db.session.execute(select(AppUser.id).where(AppUser.username == "clerk01")).scalar_one()
    admin = app.test_client()
    sign_in(admin, "secadmin")
    saved = admin.post(
        f"/admin/users/{user_id}",
        data={
            "display_name": "张晓燕",
            "role": "clerk",
            "district": "徐汇区",
            "service_point": "XH-TL-01",
            "mobile": "13900000001",
            "active": "1",
            "csrf_token": csrf_token(admin),
        },
    )
    assert saved.status_code == 409 and "完整性校验未通过" in saved.get_data(as_text=True)
    with app.app_context():
        from processes.auth_integrity import intact

        assert not intact(db.session.get(AppUser, user_id))  # not re-sealed
    assert ("user.update", "fail", "clerk01") in _events(app, "secadmin")
    assert submit_password(app.test_client(), "clerk01", TEST_PASSWORD).status_code == 401


def test_every_refusal_is_audited_exactly_once(make_app):
    app = make_app()

    @app.get("/_test/service-forbidden")
    def _service_forbidden():
        raise Forbidden("NOT_YOURS", "不是您的业务")

    @app.get("/_test/abort-forbidden")
    def _abort_forbidden():
        abort(403)

    client = app.test_client()
    sign_in(client, "clerk01")
    before = len([e for e in _events(app, "clerk01") if e[0] == "access.denied"])
    assert client.get("/_test/service-forbidden").status_code == 403
    assert client.get("/_test/abort-forbidden").status_code == 403
    assert client.get("/audit").status_code == 403  # require_permission
    denied = [e for e in _events(app, "clerk01") if e[0] == "access.denied"]
    assert len(denied) - before == 3
    assert {e[2] for e in denied[before:]} == {"/_test/service-forbidden", "/_test/abort-forbidden", "/audit"}
    assert all(e[1] == "denied" for e in denied)


def test_sign_in_floods_are_cut_before_hashing(make_app):
    app = make_app(LOGIN_RATE_PER_USERNAME=3, LOGIN_RATE_PER_IP=5, LOGIN_MAX_FAILURES=100)
    ensure_demo_user(app, "clerk01")
    client = app.test_client()
    codes = [submit_password(client, "clerk01", "wrong-password").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    # Per IP: other usernames from the same address run out too.
    codes = [submit_password(client, f"nobody{i}", "x").status_code for i in range(3)]
    assert codes == [401, 429, 429]  # 4 + 1 attempts reach the per-IP limit of 5
    assert ("auth.login", "denied", None) in _events(app, "clerk01")
    other = make_app()  # a fresh window; the right password still works there
    assert submit_password(other.test_client(), "clerk01", TEST_PASSWORD).status_code == 302


def test_a_lock_is_only_revealed_to_the_right_password(app):
    ensure_demo_user(app, "clerk01")
    with app.app_context():
        from datetime import timedelta

        from models import utcnow

        db.session.execute(
            text("UPDATE app_user SET locked_until = :t WHERE username = 'clerk01'"),
            {"t": utcnow() + timedelta(minutes=5)},
        )
        db.session.commit()
    wrong = submit_password(app.test_client(), "clerk01", "wrong-password")
    assert wrong.status_code == 401 and "账号已锁定" not in wrong.get_data(as_text=True)
    assert "用户名或密码错误" in wrong.get_data(as_text=True)
    right = submit_password(app.test_client(), "clerk01", TEST_PASSWORD)
    assert right.status_code == 401 and "账号已锁定" in right.get_data(as_text=True)


def test_a_client_chosen_request_id_is_kept_apart_in_the_audit_row(app):
    client = app.test_client()
    sign_in(client, "clerk01")
    assert client.get("/audit", headers={"X-Request-ID": "forged-trace-0001"}).status_code == 403
    with app.app_context():
        row = db.session.execute(
            select(AuditLog).where(AuditLog.event == "access.denied").order_by(AuditLog.seq.desc()).limit(1)
        ).scalar_one()
    assert row.request_id != "forged-trace-0001" and len(row.request_id) == 16
    assert '"client_request_id":"forged-trace-0001"' in row.details
    assert client.get("/audit").status_code == 403  # no id sent: the server's own, no client id
    with app.app_context():
        row = db.session.execute(
            select(AuditLog).where(AuditLog.event == "access.denied").order_by(AuditLog.seq.desc()).limit(1)
        ).scalar_one()
    assert "client_request_id" not in row.details and len(row.request_id) == 16
