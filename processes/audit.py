"""Tamper-evident audit trail (S4): record() appends in the caller's transaction, log() commits on its own.

Each row's MAC covers its own fields and the previous row's MAC, keyed by the key provider's "audit-mac"
key (the key id is stored with the row, so rotation keeps old rows verifiable). Appends are serialized on
the single `audit_chain_head` row: the UPDATE that bumps its sequence takes the row lock (PostgreSQL) or
the database write lock (SQLite) before the head is read, so concurrent writers can never fork the chain.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from config.logging import request_id_var
from integrations.crypto import hmac_sm3
from models import AuditChainHead, AuditLog, db, utcnow
from processes.platform import get_platform
from processes.unit_of_work import transaction

KEY_PURPOSE = "audit-mac"
RESULTS = ("ok", "fail", "denied")
MAX_DETAIL_CHARS = 4000
# Details never carry secrets, whatever a caller passes.
_SECRET_WORDS = ("password", "secret", "token", "signature", "code_value")
_HEAD_TX = "audit_chain_head_tx"  # session.info key: the transaction that holds the chain-head lock


@dataclass(frozen=True)
class AuditActor:
    """Who is acting, as the web layer knows it for the current request."""

    user_id: int | None = None
    username: str | None = None
    role: str | None = None
    ip: str | None = None


SYSTEM_ACTOR = AuditActor(username="system")


@dataclass(frozen=True)
class TraceIds:
    """Request ids of the current web request: the server's own, and the one the client sent (never trusted)."""

    request_id: str | None = None
    client_request_id: str | None = None


trace_context: contextvars.ContextVar[TraceIds | None] = contextvars.ContextVar("audit_trace", default=None)
actor_context: contextvars.ContextVar[AuditActor | None] = contextvars.ContextVar("audit_actor", default=None)


def canonical_details(details: dict[str, Any] | None) -> str:
    """Details as canonical JSON text (sorted keys, no spaces): exactly what the MAC covers."""
    cleaned = {
        str(k): ("***" if any(word in str(k).lower() for word in _SECRET_WORDS) else v)
        for k, v in (details or {}).items()
    }
    text = json.dumps(cleaned, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    if len(text) > MAX_DETAIL_CHARS:
        text = json.dumps({"truncated": text[: MAX_DETAIL_CHARS - 40]}, ensure_ascii=False, separators=(",", ":"))
    return text


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mac_input(row: dict[str, Any]) -> bytes:
    """The bytes a row's MAC covers: every field but id and mac, in a fixed order."""
    parts = [
        row["seq"],
        _stamp(row["at"]),
        row["user_id"],
        row["username"],
        row["role"],
        row["ip"],
        row["event"],
        row["result"],
        row["object_type"],
        row["object_id"],
        row["details"],
        row["request_id"],
        row["key_id"],
        row["prev_mac"],
    ]
    return json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _check(event: str, result: str) -> None:
    if not isinstance(event, str) or not 0 < len(event) <= 64:
        raise ValueError(f"audit event name {event!r} must be 1-64 characters")
    if result not in RESULTS:
        raise ValueError(f"audit result {result!r} must be one of {RESULTS}")


def record(
    event: str,
    *,
    result: str = "ok",
    object_type: str | None = None,
    object_id: str | None = None,
    details: dict | None = None,
    actor: AuditActor | None = None,
) -> None:
    """Append an audit row inside the caller's transaction (or its own when there is none).

    `actor` overrides the request's actor (sign-in events name the account being signed in to).
    Call it as the LAST statement of a transaction: the chain-head row stays locked until commit, so an early
    call would serialize the rest of the transaction's work (and could deadlock with instance-row locks).
    """
    _check(event, result)
    actor = actor or actor_context.get() or SYSTEM_ACTOR
    with transaction() as session:
        _append(session, actor, event, result, object_type, object_id, details)


def log(
    event: str,
    *,
    result: str = "ok",
    object_type: str | None = None,
    object_id: str | None = None,
    details: dict | None = None,
    actor: AuditActor | None = None,
) -> None:
    """Append an audit row and commit it now through its own connection (reads, exports, refusals).

    The caller's transaction may still roll back (a refusal raises): the row must survive that, so it is not
    written in it. Only when the caller's transaction already holds the chain head (it called record()) or the
    SQLite write lock would a second connection wait on it forever; then the row joins that transaction.
    """
    _check(event, result)
    actor = actor or actor_context.get() or SYSTEM_ACTOR
    if _holds_write_locks():
        record(event, result=result, object_type=object_type, object_id=object_id, details=details, actor=actor)
        return
    with Session(db.engine) as session, session.begin():
        _append(session, actor, event, result, object_type, object_id, details)


def _holds_write_locks() -> bool:
    session = db.session()
    if not session.in_transaction():
        return False
    if session.info.get(_HEAD_TX) is session.get_transaction():
        return True
    if db.engine.dialect.name == "sqlite":
        # pysqlite opens its transaction (and takes the write lock) only at the first write.
        return bool(getattr(session.connection().connection.dbapi_connection, "in_transaction", False))
    return False


def _append(session, actor: AuditActor, event, result, object_type, object_id, details) -> None:
    key = get_platform().keys.symmetric_key(KEY_PURPOSE)
    # Lock and read in one statement: the UPDATE waits for any other appender (row lock on PostgreSQL, the
    # write lock on SQLite) and returns the head that appender left; last_mac is not changed by it.
    head = session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(seq=AuditChainHead.seq + 1)
        .returning(AuditChainHead.seq, AuditChainHead.last_mac)
    ).first()
    if head is None:  # a database whose head row was never created (the migration creates it)
        session.execute(insert(AuditChainHead).values(id=1, seq=1, last_mac=""))
        head = (1, "")
    seq, prev_mac = head
    if session is db.session:  # this transaction now holds the chain head until it ends (begun by the UPDATE)
        db.session().info[_HEAD_TX] = db.session().get_transaction()
    trace = trace_context.get()
    request_id = trace.request_id if trace is not None else request_id_var.get()
    if trace is not None and trace.client_request_id:
        # Kept apart: a client-chosen id must not pass for (or collide with) the server's trace id.
        details = {**(details or {}), "client_request_id": trace.client_request_id}
    row = {
        "seq": seq,
        "at": utcnow(),
        "user_id": actor.user_id,
        "username": actor.username,
        "role": actor.role,
        "ip": actor.ip,
        "event": event,
        "result": result,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id)[:120],
        "details": canonical_details(details),
        "request_id": request_id,
        "key_id": key.key_id,
        "prev_mac": prev_mac,
    }
    row["mac"] = hmac_sm3(key.material, mac_input(row))
    session.execute(insert(AuditLog).values(**row))
    session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(last_mac=row["mac"]))


@dataclass
class ChainReport:
    """What `permitflow audit verify` found."""

    checked: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row and the head check out."""
        return not self.problems


def _rows(batch: int) -> Iterator[AuditLog]:
    last = 0
    while True:
        rows = (
            db.session.execute(select(AuditLog).where(AuditLog.seq > last).order_by(AuditLog.seq).limit(batch))
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        db.session.expunge_all()


def _problem(report: ChainReport, row: AuditLog | None, code: str, message: str) -> None:
    report.problems.append(
        {"seq": getattr(row, "seq", None), "id": getattr(row, "id", None), "code": code, "message": message}
    )


def verify_chain(batch: int = 2000, progress: Callable[[int], None] | None = None) -> ChainReport:
    """Walk the whole chain: a changed row fails its MAC, a deleted one breaks the sequence and the link,
    an inserted one fails its MAC (the key is needed to forge one), a cut tail disagrees with the head.

    `progress(checked)` is called after every `batch` rows (the background check records it)."""
    keys = get_platform().keys
    material: dict[str, bytes] = {}
    report = ChainReport()
    expected_seq, prev_mac = 1, ""
    for row in _rows(batch):
        report.checked += 1
        if progress is not None and report.checked % batch == 0:
            progress(report.checked)
        if row.seq != expected_seq:
            _problem(report, row, "SEQ_GAP", f"序号不连续：应为{expected_seq}，实际为{row.seq}（记录被删除或插入）")
        if row.prev_mac != prev_mac:
            _problem(report, row, "CHAIN_BROKEN", f"第{row.seq}条记录与前一条的链接不符（前一条被删除、插入或修改）")
        if row.key_id not in material:
            try:
                material[row.key_id] = keys.symmetric_key(KEY_PURPOSE, row.key_id).material
            except Exception:  # an unknown key id is itself a finding, not a crash
                material[row.key_id] = b""
        key = material[row.key_id]
        values = {c: getattr(row, c) for c in ("seq", "at", "user_id", "username", "role", "ip", "event", "result")}
        values.update(
            object_type=row.object_type,
            object_id=row.object_id,
            details=row.details,
            request_id=row.request_id,
            key_id=row.key_id,
            prev_mac=row.prev_mac,
        )
        if not key:
            _problem(report, row, "UNKNOWN_KEY", f"第{row.seq}条记录的密钥标识{row.key_id}无法识别")
        elif hmac_sm3(key, mac_input(values)) != row.mac:
            _problem(report, row, "MAC_MISMATCH", f"第{row.seq}条记录的校验码不符（内容被修改或伪造）")
        expected_seq, prev_mac = row.seq + 1, row.mac
    head = db.session.get(AuditChainHead, 1)
    head_seq, head_mac = (head.seq, head.last_mac) if head is not None else (0, "")
    if head_seq != expected_seq - 1 or head_mac != prev_mac:
        _problem(
            report,
            None,
            "HEAD_MISMATCH",
            f"链头记录（序号{head_seq}）与最后一条记录（序号{expected_seq - 1}）不符（末尾记录被删除或追加）",
        )
    db.session.rollback()
    return report
