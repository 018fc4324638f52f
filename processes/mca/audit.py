"""The append-only MCA 3.0 call audit (B1, S4): one row per call, kept at least 180 days."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from models import db, utcnow
from models.mca import McaCallAudit

log = logging.getLogger(__name__)
MIN_RETENTION_DAYS = 180


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
    """Append the call's audit row in its own transaction (the business transaction is already over)."""
    values = {k: v for k, v in call.__dict__.items()}
    values["called_at"] = call.called_at or utcnow()
    for name, size in (("app_id", 64), ("interface_code", 64), ("nonce", 64), ("business_key", 120)):
        if values[name] is not None:
            values[name] = str(values[name])[:size]
    db.session.rollback()  # nothing of the request's own session state may ride along
    try:
        with db.engine.begin() as connection:
            connection.execute(McaCallAudit.__table__.insert(), [values])
    except Exception:  # the caller still gets its answer; the failure is loud in the log
        log.exception("could not write the MCA call audit row for %s", values.get("request_id"))


def purge(retention_days: int, now: datetime | None = None) -> int:
    """Delete audit rows older than the retention (never below 180 days); returns how many went."""
    if retention_days < MIN_RETENTION_DAYS:
        raise ValueError(f"MCA audit retention must be at least {MIN_RETENTION_DAYS} days")
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    with db.engine.begin() as connection:
        result = connection.execute(delete(McaCallAudit.__table__).where(McaCallAudit.called_at < cutoff))
    return int(result.rowcount or 0)


def count(**filters: str) -> int:
    """How many audit rows match equality filters (for operators and tests)."""
    query = select(func.count()).select_from(McaCallAudit)
    for name, value in filters.items():
        query = query.where(getattr(McaCallAudit, name) == value)
    return int(db.session.execute(query).scalar_one())
