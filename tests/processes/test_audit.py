"""Tamper-evident audit log (S4): hash chain with HMAC-SM3, tamper detection, append-only, concurrent appends."""

from __future__ import annotations

import itertools
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from config import ConfigError, Settings
from models import AuditChainHead, AuditLog, db
from processes import audit
from processes.audit import AuditActor, verify_chain
from tests.webapp.auth_support import raw_audit_sql, reset_audit_chain

_raw = raw_audit_sql


@pytest.fixture
def fresh_audit(ctx):
    """An empty audit log and chain head before and after the test (tampering tests break the chain)."""
    reset_audit_chain()
    yield ctx
    reset_audit_chain()


def _write(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        audit.record("case.view", object_type="case", object_id=f"BK-{i}", details={"i": i})


def _codes(report) -> set[str]:
    return {p["code"] for p in report.problems}


def test_rows_are_chained_and_verify(fresh_audit):
    token = audit.actor_context.set(AuditActor(7, "clerk01", "clerk", "10.1.2.3"))
    try:
        _write(5)
    finally:
        audit.actor_context.reset(token)
    audit.log("export.excel", details={"rows": 3, "password": "never-stored"})
    rows = db.session.execute(select(AuditLog).order_by(AuditLog.seq)).scalars().all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].prev_mac == "" and all(b.prev_mac == a.mac for a, b in itertools.pairwise(rows))
    assert (rows[0].username, rows[0].role, rows[0].ip, rows[0].user_id) == ("clerk01", "clerk", "10.1.2.3", 7)
    assert rows[-1].username == "system" and "never-stored" not in rows[-1].details
    assert rows[0].key_id.startswith("audit-mac")
    head = db.session.get(AuditChainHead, 1)
    assert (head.seq, head.last_mac) == (6, rows[-1].mac)
    report = verify_chain()
    assert report.ok and report.checked == 6


def test_a_changed_record_is_found(fresh_audit):
    _write(6)
    _raw("UPDATE audit_log SET result = 'ok', object_id = 'BK-999' WHERE seq = 3")
    report = verify_chain()
    assert not report.ok
    assert [(p["seq"], p["code"]) for p in report.problems] == [(3, "MAC_MISMATCH")]


def test_a_deleted_record_is_found(fresh_audit):
    _write(6)
    _raw("DELETE FROM audit_log WHERE seq = 4")
    report = verify_chain()
    assert {"SEQ_GAP", "CHAIN_BROKEN"} <= _codes(report)
    assert {p["seq"] for p in report.problems} == {5}


def test_a_deleted_last_record_is_found_by_the_head(fresh_audit):
    _write(4)
    _raw("DELETE FROM audit_log WHERE seq = 4")
    assert _codes(verify_chain()) == {"HEAD_MISMATCH"}


def test_an_inserted_record_is_found(fresh_audit):
    _write(4)
    last = db.session.execute(select(AuditLog).where(AuditLog.seq == 4)).scalar_one()
    values = {c: getattr(last, c) for c in ("at", "key_id", "details", "event")}
    db.session.rollback()
    # A forged row that even links to the real last MAC: without the key its own MAC cannot be right.
    _raw(
        "INSERT INTO audit_log (seq, at, username, event, result, details, key_id, prev_mac, mac) "
        "VALUES (5, :at, 'intruder', :event, 'ok', :details, :key_id, :prev, :mac)",
        at=values["at"].replace(tzinfo=None) if db.engine.dialect.name == "sqlite" else values["at"],
        event=values["event"],
        details=values["details"],
        key_id=values["key_id"],
        prev=last.mac,
        mac="0" * 64,
    )
    codes = _codes(verify_chain())
    assert codes == {"MAC_MISMATCH", "HEAD_MISMATCH"}


def test_nobody_can_update_or_delete_through_the_orm_or_sql(fresh_audit):
    _write(2)
    row = db.session.execute(select(AuditLog).where(AuditLog.seq == 1)).scalar_one()
    row.result = "fail"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    row = db.session.execute(select(AuditLog).where(AuditLog.seq == 1)).scalar_one()
    db.session.delete(row)
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    statements = ["UPDATE audit_log SET result = 'fail'", "DELETE FROM audit_log"]
    if db.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for sql in statements:
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(sql))
    assert verify_chain().ok


def test_concurrent_writers_never_fork_the_chain(fresh_audit):
    app = fresh_audit
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                for i in range(15):
                    audit.log("case.view", object_type="case", object_id=f"T{n}-{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 60
    report = verify_chain()
    assert report.ok and report.checked == 60


def test_a_rolled_back_transaction_leaves_no_record(fresh_audit):
    from processes.unit_of_work import transaction

    with pytest.raises(ZeroDivisionError), transaction():
        audit.record("approval.approve", object_type="case", object_id="BK-1")
        1 / 0  # noqa: B018
    assert db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 0
    _write(1)
    assert verify_chain().ok


def test_cli_verify_reports_tampering_with_exit_code(fresh_audit, database_url, simulator):
    from webapp.cli import main

    _write(3)
    env = {
        "PERMITFLOW_ENV": "test",
        "DATABASE_URL": database_url,
        "SIMULATOR_URL": simulator.url,
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        "JOB_MODE": "eager",
        "REDIS_URL": "",
    }
    ok = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert ok.exit_code == 0 and "intact: 3 records" in ok.output, ok.output
    _raw("UPDATE audit_log SET username = 'someone-else' WHERE seq = 2")
    bad = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1 and "seq=2" in bad.output and "MAC_MISMATCH" in bad.output


def test_retention_must_be_at_least_180_days():
    with pytest.raises(ConfigError, match="AUDIT_RETENTION_DAYS"):
        Settings.from_env(environ={}, AUDIT_RETENTION_DAYS=90)
    assert Settings.from_env(environ={}, AUDIT_RETENTION_DAYS=365).AUDIT_RETENTION_DAYS == 365
