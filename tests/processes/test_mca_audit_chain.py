"""Finding 13: the MCA call audit is MAC-chained, verified, purged with a checkpoint, and never skipped."""

from __future__ import annotations

import logging
from itertools import pairwise

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from models import db, utcnow
from models.mca import McaCallAudit, McaSubmission
from processes.mca import audit
from tests.processes.test_mca_audit import _row
from tests.webapp.mca_support import clean_mca_tables, mca_fixture  # noqa: F401  (the `mca` fixture)


@pytest.fixture
def chain(ctx):
    yield ctx
    db.session.rollback()
    clean_mca_tables(ctx)


def _codes() -> list[str]:
    return sorted({p["code"] for p in audit.verify().problems})


def _raw(sql: str, **params) -> None:
    """Tampering as a database user would: plain SQL (the PostgreSQL trigger is disabled for the attack)."""
    with db.engine.begin() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.execute(text("ALTER TABLE mca_call_audit DISABLE TRIGGER mca_call_audit_append_only"))
        connection.execute(text(sql), params)
        if postgres:
            connection.execute(text("ALTER TABLE mca_call_audit ENABLE TRIGGER mca_call_audit_append_only"))


def _five() -> list[McaCallAudit]:
    for days in (5, 4, 3, 2, 1):
        audit.record(_row(days))
    rows = db.session.execute(select(McaCallAudit).order_by(McaCallAudit.seq)).scalars().all()
    db.session.rollback()
    return rows


def test_chain_verifies_and_stores_key_id_and_link(chain):
    rows = _five()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_mac == "" and all(b.prev_mac == a.mac for a, b in pairwise(rows))
    assert all(r.key_id and r.key_id.startswith("audit-mac:") and len(r.mac) == 64 for r in rows)
    report = audit.verify()
    assert report.ok and report.checked == 5


def test_a_changed_row_is_found(chain):
    rows = _five()
    _raw("UPDATE mca_call_audit SET result_code = 'FORGED' WHERE id = :id", id=rows[2].id)
    problems = audit.verify().problems
    assert [(p["code"], p["seq"]) for p in problems] == [("MAC_MISMATCH", 3)]


def test_a_deleted_row_is_found(chain):
    rows = _five()
    _raw("DELETE FROM mca_call_audit WHERE id = :id", id=rows[1].id)
    assert _codes() == ["CHAIN_BROKEN", "SEQ_GAP"]


def test_a_deleted_tail_is_found(chain):
    rows = _five()
    _raw("DELETE FROM mca_call_audit WHERE id = :id", id=rows[-1].id)
    assert _codes() == ["HEAD_MISMATCH"]


def test_inserted_rows_are_found(chain):
    rows = _five()
    columns = (
        "called_at, app_id, interface_code, http_status, result_code, latency_ms, request_sm3, response_sm3, "
        "signature_result"
    )
    values = ":at, 'app-1', 'house.fuzzyQuery', 200, 'OK', 1, 'a', 'b', 'valid'"
    _raw(f"INSERT INTO mca_call_audit ({columns}) VALUES ({values})", at=utcnow())
    assert _codes() == ["UNCHAINED"]
    _raw("DELETE FROM mca_call_audit WHERE seq IS NULL")
    # A forged row at the end, with the next seq and the right link but no valid MAC (the key is needed).
    _raw(
        f"INSERT INTO mca_call_audit ({columns}, seq, prev_mac, mac, key_id) VALUES ({values}, 6, :prev, :mac, :key)",
        at=utcnow(),
        prev=rows[4].mac,
        mac="0" * 64,
        key=rows[3].key_id,
    )
    assert _codes() == ["HEAD_MISMATCH", "MAC_MISMATCH"]


def test_purge_keeps_verification_working_and_removes_only_old_rows(chain):
    for days in (400, 200, 179, 1):
        audit.record(_row(days))
    assert audit.purge(365) == 1
    report = audit.verify()
    assert report.ok and report.checked == 3 and report.start_seq == 2
    assert audit.purge(180) == 1 and audit.verify().ok
    remaining = db.session.execute(select(func.count()).select_from(McaCallAudit)).scalar_one()
    assert remaining == 2
    db.session.rollback()
    # Deleting the first row after the checkpoint is still found, and a forged checkpoint too.
    _raw("DELETE FROM mca_call_audit WHERE seq = 3")
    assert _codes() == ["CHAIN_BROKEN", "SEQ_GAP"]
    with pytest.raises(audit.AuditChainBroken):
        audit.purge(180)
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE mca_audit_checkpoint SET through_seq = 3"))
    assert "CHECKPOINT_MISMATCH" in _codes()


def test_verify_audit_command(chain):
    from webapp.cli import main

    _five()
    env = {"DATABASE_URL": chain.config["SQLALCHEMY_DATABASE_URI"], "PERMITFLOW_ENV": "test", "LOG_JSON": "false"}
    ok = CliRunner().invoke(main, ["mca", "verify-audit"], env=env)
    assert ok.exit_code == 0 and "checked 5" in ok.output and "OK" in ok.output
    _raw("UPDATE mca_call_audit SET latency_ms = 999 WHERE seq = 2")
    broken = CliRunner().invoke(main, ["mca", "verify-audit"], env=env)
    assert broken.exit_code == 1 and "MAC_MISMATCH: seq=2" in broken.output


def _break_audit_inserts() -> None:
    """Make every audit insert fail, as a full disk or a revoked grant would (the head row disappears and a
    CHECK refuses it back), without touching the code under test."""
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE mca_audit_head SET seq = -1000000"))  # -999999 collides below
        connection.execute(
            text(
                "INSERT INTO mca_call_audit (called_at, app_id, interface_code, http_status, result_code, latency_ms,"
                " request_sm3, response_sm3, signature_result, seq) VALUES (:at, 'x', 'x', 0, 'x', 0, 'x', 'x', 'x',"
                " -999999)"
            ),
            {"at": utcnow()},
        )


def test_a_call_whose_audit_cannot_be_written_has_no_business_effect(mca, caplog):
    from tests.support import person as sim_person
    from tests.webapp.test_mca_envelope import _registration

    with mca.app.app_context():
        _break_audit_inserts()
    caplog.set_level(logging.CRITICAL, logger="processes.mca.audit")
    refused = mca.client.call("registration.submit", _registration(sim_person("long")))
    assert (refused.status, refused.code) == (503, "MCA_AUDIT_UNAVAILABLE") and refused.data is None
    query = mca.client.call("house.fuzzyQuery", {"partialAddress": "田林路"})
    assert (query.status, query.code) == (503, "MCA_AUDIT_UNAVAILABLE") and query.data is None
    assert any("ALERT mca-audit-unavailable" in r.getMessage() for r in caplog.records)
    with mca.app.app_context():
        assert db.session.execute(select(func.count()).select_from(McaSubmission)).scalar_one() == 0
        count = db.session.execute(text("SELECT count(*) FROM process_instance")).scalar_one()
        assert count == 0
        db.session.rollback()
