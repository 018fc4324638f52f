"""The append-only MCA 3.0 call audit (B1, S4): MAC-chained rows, kept at least 180 days, never skipped.

A call whose audit row cannot be written has no business effect: interfaces that change business get an
"accepted" row before their service runs (no row, no service), and every call's outcome row must be written
before its answer leaves (otherwise the answer is replaced by MCA_AUDIT_UNAVAILABLE). Failures alert loudly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from models import db, utcnow
from models.mca import McaCallAudit
from processes.errors import ProcessError
from processes.mca import audit_chain

log = logging.getLogger(__name__)
MIN_RETENTION_DAYS = 180
ACCEPTED = "MCA_ACCEPTED"  # result code of the row written before a business-changing service runs


class AuditUnavailable(ProcessError):
    """The audit row could not be written: the call must not take effect (503)."""

    status = 503


class AuditChainBroken(ProcessError):
    """The chain does not verify: purging now would destroy the evidence (409)."""

    status = 409


@dataclass
class CallRecord:
    """What the gateway learnt about one call; written once the response is ready."""

    app_id: str = ""
    interface_code: str = ""
    request_id: str | None = None
    nonce: str | None = None
    http_status: int = 0
    result_code: str = ""
    latency_ms: int = 0
    request_sm3: str = ""
    response_sm3: str = ""
    signature_result: str = "not_checked"
    business_key: str | None = None
    remote_addr: str | None = None
    called_at: datetime | None = None


def record(call: CallRecord) -> None:
    """Append the call's chained audit row in its own transaction; AuditUnavailable (and an alert) if it fails."""
    values = dict(call.__dict__)
    values["called_at"] = call.called_at or utcnow()
    for name, size in (("app_id", 64), ("interface_code", 64), ("nonce", 64), ("business_key", 120)):
        if values[name] is not None:
            values[name] = str(values[name])[:size]
    db.session.rollback()  # nothing of the request's own session state may ride along
    try:
        with db.engine.begin() as connection:
            audit_chain.append(connection, values)
    except Exception as exc:
        # ALERT: operators watch for this logger at CRITICAL; the call is refused or has not taken effect.
        log.critical(
            "ALERT mca-audit-unavailable: could not write the MCA call audit row for %s (%s, %s)",
            values.get("request_id"),
            values.get("interface_code"),
            values.get("result_code"),
            exc_info=True,
        )
        raise AuditUnavailable("MCA_AUDIT_UNAVAILABLE", "审计记录写入失败，本次调用未生效，请稍后重试") from exc


def purge(retention_days: int, now: datetime | None = None) -> int:
    """Delete the chain's oldest rows that are all older than the retention (never below 180 days) and record a
    checkpoint so the rest still verifies; refuses while the chain does not verify. Returns how many went."""
    if retention_days < MIN_RETENTION_DAYS:
        raise ValueError(f"MCA audit retention must be at least {MIN_RETENTION_DAYS} days")
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    report = audit_chain.verify()
    if not report.ok:
        raise AuditChainBroken(
            "MCA_AUDIT_CHAIN_BROKEN", "调用审计校验链不完整，请先核查（permitflow mca verify-audit）"
        )
    table = McaCallAudit.__table__
    with db.engine.begin() as connection:
        # Only a prefix of the chain can go (a row is kept while any older-numbered row is kept).
        first_kept = connection.execute(select(func.min(table.c.seq)).where(table.c.called_at >= cutoff)).scalar()
        doomed = table.c.seq < first_kept if first_kept is not None else table.c.seq.is_not(None)
        last = connection.execute(
            select(table.c.seq, table.c.mac).where(doomed).order_by(table.c.seq.desc()).limit(1)
        ).first()
        if last is None:
            return 0
        removed = int(connection.execute(delete(table).where(doomed)).rowcount or 0)
        # Rows from before the chain existed (no seq, lower ids) go by age alone.
        first_chained = connection.execute(select(func.min(table.c.id)).where(table.c.seq.is_not(None))).scalar()
        legacy = (table.c.seq.is_(None), table.c.called_at < cutoff)
        if first_chained is not None:
            legacy = (*legacy, table.c.id < first_chained)
        removed += int(connection.execute(delete(table).where(*legacy)).rowcount or 0)
        audit_chain.checkpoint(connection, last.seq, last.mac, removed, utcnow())
    return removed


def verify() -> audit_chain.ChainReport:
    """Check the chain (see processes.mca.audit_chain.verify)."""
    return audit_chain.verify()


def count(**filters: str) -> int:
    """How many audit rows match equality filters (for operators and tests)."""
    query = select(func.count()).select_from(McaCallAudit)
    for name, value in filters.items():
        query = query.where(getattr(McaCallAudit, name) == value)
    return int(db.session.execute(query).scalar_one())
