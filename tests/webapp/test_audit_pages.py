"""The audit administrator's pages: search (user, event, dates, result, object) with pages, Excel export."""

from __future__ import annotations

import io
import secrets
import zipfile
from datetime import date, timedelta

from sqlalchemy import select

from models import AuditLog, db
from processes import audit
from processes.audit import AuditActor
from tests.webapp.auth_support import csrf_token, raw_audit_sql, reset_audit_chain, sign_in


def _seed(app, n: int) -> str:
    """n records by a fresh user name (the audit log outlives each test's data, on purpose)."""
    name = "seed-" + secrets.token_hex(3)
    with app.app_context():
        token = audit.actor_context.set(AuditActor(99, name, "clerk", "10.0.0.9"))
        try:
            for i in range(n):
                audit.record(
                    "case.view", object_type="case", object_id=f"BK-{i:03d}", result="ok" if i % 4 else "denied"
                )
        finally:
            audit.actor_context.reset(token)
    return name


def _auditor(app):
    client = app.test_client()
    sign_in(client, "auditadmin")
    return client


def test_only_the_audit_administrator_sees_the_log(app):
    for username in ("secadmin", "sysadmin", "approver1"):
        client = app.test_client()
        sign_in(client, username)
        assert client.get("/audit").status_code == 403, username
        assert client.get("/audit/export").status_code == 403, username
    assert _auditor(app).get("/audit").status_code == 200


def test_search_by_user_event_result_object_and_dates_with_pages(app):
    seed = _seed(app, 60)
    client = _auditor(app)
    page = client.get(f"/audit?username={seed}&event=case").get_data(as_text=True)
    assert "共 60 条，第 1/2 页" in page and 'id="audit-next"' in page
    page2 = client.get(f"/audit?username={seed}&event=case&page=2").get_data(as_text=True)
    assert "第 2/2 页" in page2 and "BK-000" in page2
    denied = client.get(f"/audit?username={seed}&result=denied").get_data(as_text=True)
    assert "共 15 条" in denied
    one = client.get(f"/audit?object=BK-007&username={seed}").get_data(as_text=True)
    assert "共 1 条" in one
    today = date.today()
    assert "共 60 条" in client.get(
        f"/audit?username={seed}&date_from={today - timedelta(days=1)}&date_to={today + timedelta(days=1)}"
    ).get_data(as_text=True)
    assert "共 0 条" in client.get(f"/audit?username={seed}&date_to={today - timedelta(days=2)}").get_data(as_text=True)
    bad = client.get("/audit?date_from=yesterday")
    assert bad.status_code == 422 and "日期格式应为" in bad.get_data(as_text=True)
    with app.app_context():
        searches = db.session.execute(select(AuditLog).where(AuditLog.event == "audit.search")).scalars().all()
        assert searches and all(s.username == "auditadmin" for s in searches)


def test_export_to_excel_is_itself_audited(app):
    seed = _seed(app, 5)
    client = _auditor(app)
    response = client.get(f"/audit/export?username={seed}")
    assert response.status_code == 200 and "spreadsheetml" in response.mimetype
    with zipfile.ZipFile(io.BytesIO(response.data)) as book:
        strings = book.read("xl/sharedStrings.xml").decode("utf-8")
    assert seed in strings and "BK-004" in strings and "查看" not in strings
    with app.app_context():
        export = db.session.execute(
            select(AuditLog).where(AuditLog.event == "audit.export").order_by(AuditLog.seq.desc()).limit(1)
        ).scalar_one()
        assert export.username == "auditadmin" and '"rows":5' in export.details


def _check(client, drain) -> str:
    """Start a background chain check, run the job, then read the page the browser polls."""
    started = client.post("/audit/verify", data={"csrf_token": csrf_token(client)})
    assert started.status_code == 302 and "/audit/verify/" in started.headers["Location"]
    drain()
    page = client.get(started.headers["Location"])
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_verify_button_reports_the_chain(app, drain):
    with app.app_context():
        reset_audit_chain()
    try:
        client = _auditor(app)  # the sign-in itself writes the first records
        body = _check(client, drain)
        assert "哈希链完整" in body and 'http-equiv="refresh"' not in body
        with app.app_context():
            raw_audit_sql("UPDATE audit_log SET result = 'ok', username = 'nobody' WHERE seq = 2")
        body = _check(client, drain)
        assert 'id="verify-failed"' in body and "第2条记录的校验码不符" in body
        with app.app_context():
            last = db.session.execute(
                select(AuditLog).where(AuditLog.event == "audit.verify").order_by(AuditLog.seq.desc()).limit(1)
            ).scalar_one()
            assert last.result == "fail"
    finally:
        with app.app_context():
            reset_audit_chain()


def test_a_queued_check_page_polls(app):
    from processes.audit_verify import start_check
    from processes.platform import get_platform

    client = _auditor(app)
    with app.app_context():
        run_id = start_check(get_platform(), "auditadmin")  # not drained in thread/RQ mode; eager runs it
        from models.security import AuditVerifyRun

        db.session.execute(
            AuditVerifyRun.__table__.update()
            .where(AuditVerifyRun.id == run_id)
            .values(status="running", total=10, checked=4)
        )
        db.session.commit()
    body = client.get(f"/audit/verify/{run_id}").get_data(as_text=True)
    assert 'id="verify-running"' in body and "4 / 10" in body and 'http-equiv="refresh"' in body
    assert client.get("/audit/verify/999999").status_code == 404
