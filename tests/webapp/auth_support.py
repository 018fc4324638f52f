"""Signing staff in from tests through the real two-factor flow (password + software UKey or SMS code).

    from tests.webapp.auth_support import DEMO_LOGINS, sign_in, csrf_token
    sign_in(client, DEMO_LOGINS["clerk"])          # password, then an SM2 signature of the server's challenge
    client.post("/inbox/…", data={"csrf_token": csrf_token(client), …})

The demo user is (re)created in the database first with TEST_PASSWORD, its demo mobile and a per-process
software-UKey key pair, because the test database is emptied between tests.
"""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from integrations.crypto import SM2PrivateKey
from processes.demo import DEMO_MOBILES, DEMO_USERS

DEMO_LOGINS: dict[str, str] = {
    "clerk": "clerk01",
    "approver_l1": "approver1",
    "approver_l2": "approver2",
    "outbound_agent": "caller01",
    "analyst": "analyst01",
    "data_operator": "operator01",
    "sysadmin": "sysadmin",
    "secadmin": "secadmin",
    "auditadmin": "auditadmin",
}
TEST_PASSWORD = "Test#Passw0rd-2026"
_KEYS: dict[str, SM2PrivateKey] = {}
_CHALLENGE = re.compile(r'data-challenge="([0-9a-f]{64})"')


def demo_key(username: str) -> SM2PrivateKey:
    """The software-UKey private key of a demo user in this test process."""
    if username not in _KEYS:
        _KEYS[username] = SM2PrivateKey.generate()
    return _KEYS[username]


def ensure_demo_user(app, username: str, password: str = TEST_PASSWORD) -> None:
    """Create (or reset) a demo user with the test password, its mobile and its software-UKey public key."""
    from processes.users import upsert_user

    spec = next((u for u in DEMO_USERS if u[0] == username), None)
    if spec is None:
        raise KeyError(f"{username} is not a demo user (see processes/demo.py DEMO_USERS)")
    _, name, role, point, district = spec
    with app.app_context():
        public_pem = demo_key(username).public_key().to_pem().decode()
        upsert_user(username, name, role, password, point, district, DEMO_MOBILES[username], public_pem)


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token of the client's browser session (created when missing), for form posts and fetch headers."""
    import secrets

    with client.session_transaction() as session:
        if not session.get("csrf"):
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]


def submit_password(client: FlaskClient, username: str, password: str = TEST_PASSWORD):
    """Step one of sign-in; returns the response."""
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)})


def ukey_challenge(client: FlaskClient) -> str:
    """The challenge shown on the UKey step of the pending sign-in."""
    page = client.get("/login/factor?method=ukey")
    found = _CHALLENGE.search(page.get_data(as_text=True))
    assert found, f"no UKey challenge on the factor page ({page.status_code})"
    return found.group(1)


def latest_sms_code(app, username: str) -> str:
    """The sign-in code last handed to the SMS service for this demo user's mobile."""
    from models import SmsMessage, db

    with app.app_context():
        recent = db.session.execute(
            select(SmsMessage).where(SmsMessage.template_code == "VERIFY_CODE").order_by(SmsMessage.id.desc()).limit(50)
        ).scalars()
        # The mobile is encrypted at rest (random IV): compare after loading, not in SQL.
        message = next(m for m in recent if m.mobile == DEMO_MOBILES[username])
        return message.params["code"]


def sign_in(client: FlaskClient, username: str, *, factor: str = "ukey") -> None:
    """Sign a demo user in through the real two-factor flow; fails the test if sign-in does not succeed."""
    app = client.application
    ensure_demo_user(app, username)
    response = submit_password(client, username)
    assert response.status_code == 302 and "/login/factor" in response.headers["Location"], response.status_code
    if factor == "ukey":
        challenge = ukey_challenge(client)
        signature = demo_key(username).sign(bytes.fromhex(challenge)).hex()
        data = {"method": "ukey", "signature": signature}
    else:
        sent = client.post("/login/sms", data={"csrf_token": csrf_token(client)})
        assert sent.status_code == 302, sent.status_code
        data = {"method": "sms", "code": latest_sms_code(app, username)}
    response = client.post("/login/verify", data={**data, "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], response.get_data(as_text=True)


def sign_out(client: FlaskClient) -> None:
    """Sign out (ends the server-side session)."""
    client.post("/logout", data={"csrf_token": csrf_token(client)})


def _audit_guards(conn, on: bool) -> None:
    import importlib

    from sqlalchemy import text

    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ALTER TABLE audit_log {'ENABLE' if on else 'DISABLE'} TRIGGER USER"))
    elif on:
        migration = importlib.import_module("models.migrations.versions.0007_auth_audit")
        for statement in migration.SQLITE_TRIGGERS:
            conn.execute(text(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS")))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
        conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))


def raw_audit_sql(sql: str, **params) -> None:
    """Run SQL on the audit log as a database administrator would, append-only guards off (tamper tests)."""
    from sqlalchemy import text

    from models import db

    db.session.rollback()
    with db.engine.begin() as conn:
        _audit_guards(conn, on=False)
        conn.execute(text(sql), params)
        _audit_guards(conn, on=True)


def reset_audit_chain() -> None:
    """Empty the audit log and its chain head (needs an app context).

    The log spans the whole test session, and a few tests run CLI commands on another key store, so a test
    that verifies the chain starts from an empty one.
    """
    raw_audit_sql("DELETE FROM audit_log")
    raw_audit_sql("UPDATE audit_chain_head SET seq = 0, last_mac = '' WHERE id = 1")
