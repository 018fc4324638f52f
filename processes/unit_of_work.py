"""One transaction per service call: commit or roll back, map races to 409, run after-commit hooks."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from integrations.http import CallRecord
from models import db
from models.integration import IntegrationCall
from processes.errors import Conflict

log = logging.getLogger(__name__)
# PostgreSQL: serialization failure, deadlock detected, lock not available (lock_timeout / NOWAIT).
BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})

_pending_calls: contextvars.ContextVar[list[CallRecord] | None] = contextvars.ContextVar("pending_calls", default=None)
_after_commit: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "after_commit", default=None
)


def record_call(record: CallRecord) -> None:
    """Call-log sink for integration clients: kept with the current transaction, never lost on rollback."""
    pending = _pending_calls.get()
    if pending is None:
        _write_calls([record])
    else:
        pending.append(record)


@contextmanager
def capture_calls() -> Iterator[list[CallRecord]]:
    """Collect call records made outside a transaction (e.g. a handler's I/O) to log with the next one."""
    captured: list[CallRecord] = []
    token = _pending_calls.set(captured)
    try:
        yield captured
    finally:
        _pending_calls.reset(token)


def log_calls(records: list[CallRecord]) -> None:
    """Log captured call records with the current transaction (or at once when there is none)."""
    for record in records:
        record_call(record)


def after_commit(hook: Callable[[], None]) -> None:
    """Run `hook` once the current transaction has committed (e.g. relay new jobs)."""
    hooks = _after_commit.get()
    if hooks is None:
        hook()
    else:
        hooks.append(hook)


class _Batch:
    """An after-commit hook that hands everything collected during one transaction to one call."""

    def __init__(self, key: str, flush: Callable[[list], None]) -> None:
        self.key, self.flush, self.items = key, flush, []

    def __call__(self) -> None:
        self.flush(self.items)


def after_commit_batch(key: str, item: object, flush: Callable[[list], None]) -> None:
    """Collect `item` and call `flush(items)` once after the current transaction commits (at once if none)."""
    hooks = _after_commit.get()
    if hooks is None:
        flush([item])
        return
    for hook in hooks:
        if isinstance(hook, _Batch) and hook.key == key:
            hook.items.append(item)
            return
    batch = _Batch(key, flush)
    batch.items.append(item)
    hooks.append(batch)


@contextmanager
def transaction(autocommit: bool = False) -> Iterator[Session]:
    """A unit of work on the Flask-SQLAlchemy session; nested use joins the outer one.

    With `autocommit`, reads take no transaction and hold no lock: for units whose writes are one engine step
    (processes/step_writes), which is all-or-nothing by itself and guarded by the instance's version. That
    spares the BEGIN and COMMIT round trips; rows the session flushes besides it are written one by one.
    """
    if _after_commit.get() is not None:  # nested: the outer transaction commits
        yield db.session
        return
    calls: list[CallRecord] = []
    hooks: list[Callable[[], None]] = []
    calls_token = _pending_calls.set(calls)
    hooks_token = _after_commit.set(hooks)
    session = db.session
    if autocommit:
        read_in_autocommit()
    elif _reading_in_autocommit(session):
        session.rollback()  # no round trip: a unit of work always gets a real transaction (and its locks)
    committed = False
    try:
        yield session
        _add_calls(session, calls)
        session.commit()
        committed = True
    except StaleDataError as exc:
        session.rollback()
        raise Conflict("CONCURRENT_UPDATE", "该业务已被他人同时处理，请刷新后重试") from exc
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("DUPLICATE", "记录已存在或与现有数据冲突", {"constraint": _constraint(exc)}) from exc
    except OperationalError as exc:
        session.rollback()
        if getattr(exc.orig, "sqlstate", None) in BUSY_SQLSTATES or "locked" in str(exc).lower():
            raise Conflict("BUSY", "系统繁忙，请稍后重试") from exc
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        _pending_calls.reset(calls_token)
        _after_commit.reset(hooks_token)
        if not committed and calls:
            _write_calls(calls)
        session.close()
    for hook in hooks:
        try:
            hook()
        except Exception:  # a failed hook must not undo a committed transaction; its work is retried later
            log.exception("after-commit hook failed")


def read_in_autocommit() -> None:
    """Let the session's next reads run without a transaction (no BEGIN or ROLLBACK round trips, no locks held),
    unless one is open already."""
    if not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def in_autocommit(connection: Connection) -> bool:
    """True when statements on this connection commit one by one."""
    return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def _reading_in_autocommit(session: Session) -> bool:
    return session().in_transaction() and in_autocommit(session.connection())


def _add_calls(session: Session, calls: list[CallRecord]) -> None:
    session.add_all(IntegrationCall.from_record(c) for c in calls)


def _write_calls(calls: list[CallRecord]) -> None:
    try:
        with db.engine.begin() as connection:
            connection.execute(IntegrationCall.__table__.insert(), [IntegrationCall.row(c) for c in calls])
    except Exception:
        log.exception("could not write %d integration call records", len(calls))


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    return diag or str(exc.orig).split("\n")[0][:200]
