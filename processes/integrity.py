"""Key-field integrity (S1): the business-use gate for single records, and the full scan of every sealed row.

Every ORM write seals a protected row (models.protection); every load checks it and flags a mismatch.
`require_intact` is the gate the services pass a record through before using it: a flagged record is
refused with RECORD_TAMPERED, an alert is logged and an audit event is written (in its own transaction,
after the caller's has ended, so the refusal's rollback cannot swallow it). `scan` re-checks every row of
every protected table with Core selects in id batches, and every staff account's sign-in seal
(`permitflow integrity check`).
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import String, event, select, type_coerce
from sqlalchemy.orm import Session

from integrations.keys import KeyProviderError
from models import AppUser, db
from models.protection import (
    ENC_PURPOSE,
    MAC_PURPOSE,
    Protected,
    TamperedRecord,
    alert_log,
    current_keys,
    integrity_state,
    spec_of,
)
from processes.keys import protected_models

log = logging.getLogger(__name__)
T = TypeVar("T")
AUDIT_EVENT = "integrity.violation"
ACCOUNT_SEALS = "app_user"  # staff accounts carry their own seal over the sign-in fields (auth_integrity)


def require_intact(record: T) -> T:
    """Return the record if its key fields check out; else alert, audit and raise TamperedRecord (409)."""
    if record is None or not isinstance(record, Protected):
        return record
    reason = integrity_state(record)
    if reason is None:
        return record
    table = spec_of(type(record)).table
    alert_log.critical(
        "INTEGRITY ALERT: refused business use of %s id=%s (%s)",
        table,
        record.id,
        reason,
        extra={"table": table, "row_id": record.id, "reason": reason},
    )
    _audit_later(table, record.id, reason)
    raise TamperedRecord(table, record.id, reason)


def _audit_later(table: str, row_id: Any, reason: str) -> None:
    session = db.session()
    pending = session.info.setdefault("pf_integrity_events", [])
    pending.append((table, row_id, reason))
    if not session.in_transaction():
        _write_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction: committed, rolled back or closed
        _write_pending(session)


def _write_pending(session: Session) -> None:
    pending = session.info.pop("pf_integrity_events", None)
    if not pending:
        return
    try:
        from processes import audit  # the S4 audit trail (owned by the auth work); absent → the alert log only
    except ImportError:  # pragma: no cover - depends on which parts are installed
        return
    actor = audit.actor_context.get() or audit.SYSTEM_ACTOR
    try:
        # A separate session: the caller's has just ended (and may have been rolled back with the refusal).
        with Session(db.engine) as own, own.begin():
            for table, row_id, reason in pending:
                audit._append(own, actor, AUDIT_EVENT, "denied", table, str(row_id), {"reason": reason, "table": table})
    except Exception:  # the alert is already logged; never let auditing break the caller
        log.exception("could not write %d integrity audit events", len(pending))


# --- the full scan -------------------------------------------------------------------------------------------


@dataclass
class ScanReport:
    """What `permitflow integrity check` found."""

    checked: int = 0
    seconds: float = 0.0
    per_table: dict[str, int] = field(default_factory=dict)
    tampered: list[tuple[str, Any, str]] = field(default_factory=list)  # (table, id, reason)

    @property
    def rows_per_second(self) -> float:
        """Scan speed."""
        return self.checked / self.seconds if self.seconds else 0.0


class _KeyCache:
    """Key material by key id for one scan: the provider is asked once per key id."""

    def __init__(self) -> None:
        self.keys = current_keys()
        self._cache: dict[str, bytes | None] = {}
        self._macs: dict[str, Any] = {}

    def mac(self, key_id: str) -> Any:
        """A keyed HMAC-SM3 object for a field-MAC key id (copy it per message), or None if unknown."""
        if key_id not in self._macs:
            material = self.material(MAC_PURPOSE, key_id)
            self._macs[key_id] = None if material is None else hmac.new(material, digestmod="sm3")
        return self._macs[key_id]

    def known(self, purpose: str, stored: str) -> bool:
        """True when a stored value names a key of the purpose that the provider still has."""
        key_id, sep, _ = stored.partition("$")
        return bool(sep) and self.material(purpose, key_id) is not None

    def material(self, purpose: str, key_id: str) -> bytes | None:
        if key_id not in self._cache:
            try:
                self._cache[key_id] = (
                    self.keys.symmetric_key(purpose, key_id).material if key_id.startswith(purpose + ":") else None
                )
            except KeyProviderError:
                self._cache[key_id] = None
        return self._cache[key_id]


def scan(batch: int = 5000, tables: list[str] | None = None, limit_tampered: int = 10_000) -> ScanReport:
    """Check every sealed row's MAC (over its id, key fields, ciphertexts and blind indexes). Read-only.

    No decryption is needed: the MAC covers the stored ciphertexts, so any change to one breaks it; the
    encryption key each ciphertext names must still be known.
    """
    report = ScanReport()
    cache = _KeyCache()
    started = time.perf_counter()
    for model in protected_models():
        spec = spec_of(model)
        if not spec.mac or (tables and spec.table not in tables):
            continue
        count = _scan_table(model, spec, cache, batch, report, limit_tampered)
        report.per_table[spec.table] = count
        report.checked += count
    if not tables or ACCOUNT_SEALS in tables:
        count = _scan_accounts(batch, report, limit_tampered)
        report.per_table[ACCOUNT_SEALS] = count
        report.checked += count
    report.seconds = time.perf_counter() - started
    for table, row_id, reason in report.tampered:
        alert_log.critical("INTEGRITY ALERT: %s id=%s failed the integrity scan (%s)", table, row_id, reason)
    return report


def _scan_table(model: type, spec: Any, cache: _KeyCache, batch: int, report: ScanReport, limit: int) -> int:
    table = model.__table__
    raw = set(spec.encrypted) | set(spec.indexes.values())
    # Encrypted and index columns as stored (no type processing), the others as the ORM reads them.
    columns = [table.c.id, table.c.integrity_mac]
    columns += [type_coerce(table.c[n], String) if n in raw else table.c[n] for n in spec.mac_columns]
    enc_positions = [2 + i for i, n in enumerate(spec.mac_columns) if n in spec.encrypted]
    message, tampered = spec.message, report.tampered
    count, after = 0, None
    with db.engine.connect() as conn:
        while True:
            query = select(*columns).order_by(table.c.id).limit(batch)
            if after is not None:
                query = query.where(table.c.id > after)
            rows = conn.execute(query).all()
            if not rows:
                return count
            after = rows[-1][0]
            count += len(rows)
            for row in rows:
                stored_mac = row[1]
                key_id, sep, digest = (stored_mac or "").partition("$")
                keyed = cache.mac(key_id) if sep else None
                if keyed is None:
                    reason = "mac_missing" if stored_mac is None else "mac_key_unknown"
                else:
                    check = keyed.copy()  # the keyed state is computed once per key, not once per row
                    check.update(message(row[2:], row[0]))  # the row id too: a MAC copied to another row fails
                    reason = None if hmac.compare_digest(check.hexdigest(), digest) else "mac_mismatch"
                if reason is None and any(
                    row[p] is not None and not cache.known(ENC_PURPOSE, row[p]) for p in enc_positions
                ):
                    reason = "enc_key_unknown"
                if reason is None:
                    continue
                if len(tampered) < limit:
                    tampered.append((spec.table, row[0], reason))


def _scan_accounts(batch: int, report: ScanReport, limit: int) -> int:
    """Check every staff account's sign-in seal (role, scope, password hash, UKey key, …) as sign-in does."""
    from processes.auth_integrity import intact  # it needs processes.platform, which imports this module

    count = 0
    query = select(AppUser).order_by(AppUser.id).execution_options(yield_per=batch)
    try:
        for user in db.session.execute(query).scalars():
            count += 1
            if not intact(user) and len(report.tampered) < limit:
                reason = "seal_mismatch" if user.auth_mac else "seal_missing"
                report.tampered.append((ACCOUNT_SEALS, user.id, reason))
    finally:
        db.session.rollback()
    return count
