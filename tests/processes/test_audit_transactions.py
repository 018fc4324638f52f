"""audit.log() commits on its own connection; record() stays in the caller's; lock waits become 409 BUSY."""

from __future__ import annotations

import contextlib
import time

import pytest
from sqlalchemy import select, text

from models import AuditLog, db
from processes import audit
from processes.audit import verify_chain
from processes.errors import Conflict
from processes.unit_of_work import transaction
from tests.webapp.auth_support import reset_audit_chain


@pytest.fixture
def fresh_audit(ctx):
    reset_audit_chain()
    yield ctx
    reset_audit_chain()


def _events() -> list[str]:
    db.session.rollback()
    return list(db.session.execute(select(AuditLog.event).order_by(AuditLog.seq)).scalars())


class _Refused(Exception):
    pass


def test_log_survives_the_callers_rollback_and_record_does_not(fresh_audit):
    with pytest.raises(_Refused), transaction():
        db.session.execute(select(AuditLog.id)).all()  # the caller has read in its transaction
        audit.log("access.denied", result="denied", object_type="path", object_id="/x")
        audit.record("case.update", object_type="case", object_id="BK-1")
        raise _Refused
    assert _events() == ["access.denied"]
    assert verify_chain().ok


def test_log_after_record_in_the_same_transaction_joins_it(fresh_audit):
    """The transaction already holds the chain head: a second connection would wait on it forever."""
    with transaction():
        audit.record("case.update", object_type="case", object_id="BK-1")
        audit.log("case.view", object_type="case", object_id="BK-1")
    assert _events() == ["case.update", "case.view"]
    assert verify_chain().ok


def test_log_after_a_write_in_the_callers_transaction(fresh_audit):
    """On SQLite the caller's first write takes the database write lock: the row then joins that transaction."""
    with transaction():
        db.session.execute(text("UPDATE login_attempt SET attempts = attempts WHERE id = -1"))
        audit.log("case.view", object_type="case", object_id="BK-2")
    assert _events() == ["case.view"]
    assert verify_chain().ok


def test_a_lock_timeout_on_postgresql_is_409_busy(ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("lock_timeout / sqlstate 55P03 is PostgreSQL behaviour")
    with db.engine.connect() as other:
        other.execute(text("SELECT id FROM audit_chain_head WHERE id = 1 FOR UPDATE"))
        with pytest.raises(Conflict) as refused, transaction():
            db.session.execute(text("SET LOCAL lock_timeout = '200ms'"))
            db.session.execute(text("SELECT id FROM audit_chain_head WHERE id = 1 FOR UPDATE"))
        other.rollback()
    assert refused.value.code == "BUSY" and refused.value.status == 409


def test_a_deadlock_on_postgresql_is_409_busy(ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("deadlock detection (sqlstate 40P01) is PostgreSQL behaviour")
    import threading

    db.session.execute(text("CREATE TABLE IF NOT EXISTS _deadlock_probe (id int primary key)"))
    db.session.execute(text("INSERT INTO _deadlock_probe VALUES (1), (2) ON CONFLICT DO NOTHING"))
    db.session.commit()
    locked_one, done = threading.Event(), threading.Event()

    engine = db.engine  # the thread has no app context

    def other_side() -> None:
        with engine.connect() as other:
            other.execute(text("SET deadlock_timeout = '5s'"))  # this side waits; the test's side detects
            other.execute(text("SELECT id FROM _deadlock_probe WHERE id = 2 FOR UPDATE"))
            locked_one.set()
            with contextlib.suppress(Exception):  # if this side is the victim, the test's assertion says so
                other.execute(text("SELECT id FROM _deadlock_probe WHERE id = 1 FOR UPDATE"))
            other.rollback()
            done.set()

    outcome: list[BaseException | None] = []
    thread = threading.Thread(target=other_side)
    try:
        with transaction():
            db.session.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
            db.session.execute(text("SELECT id FROM _deadlock_probe WHERE id = 1 FOR UPDATE"))
            thread.start()
            locked_one.wait(10)
            time.sleep(0.5)  # the other side is now waiting for row 1: our wait below closes the cycle
            db.session.execute(text("SELECT id FROM _deadlock_probe WHERE id = 2 FOR UPDATE"))
        outcome.append(None)
    except Conflict as exc:
        outcome.append(exc)
    finally:
        thread.join(10)
        db.session.rollback()
        db.session.execute(text("DROP TABLE IF EXISTS _deadlock_probe"))
        db.session.commit()
    # The side with the short deadlock_timeout detects the deadlock and is the one rolled back.
    assert isinstance(outcome[0], Conflict) and outcome[0].code == "BUSY" and outcome[0].status == 409
