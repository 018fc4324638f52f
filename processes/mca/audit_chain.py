"""The MCA call audit's MAC chain (S4): HMAC-SM3 over each row's fields and the previous row's MAC.

Keyed by the key provider's "audit-mac" key (its id stored with the row, so rotation keeps old rows
verifiable). Appends are serialized on the single `mca_audit_head` row: the UPDATE that bumps its sequence
takes the row lock (PostgreSQL) or the write lock (SQLite) before the head is read, so writers never fork the
chain. A purge records a checkpoint (the last removed row's seq and MAC, itself MACed) where verification starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from integrations.crypto import hmac_sm3
from models import db
from models.mca import McaAuditCheckpoint, McaAuditHead, McaCallAudit
from processes.platform import get_platform

KEY_PURPOSE = "audit-mac"
# Every column the MAC covers, in this order (all but id and mac).
FIELDS = (
    "seq",
    "called_at",
    "app_id",
    "interface_code",
    "request_id",
    "nonce",
    "http_status",
    "result_code",
    "latency_ms",
    "request_sm3",
    "response_sm3",
    "signature_result",
    "business_key",
    "remote_addr",
    "key_id",
    "prev_mac",
)
CHECKPOINT_FIELDS = ("created_at", "through_seq", "through_mac", "removed", "key_id")


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # SQLite hands back naive UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def mac_input(values: dict[str, Any], names: tuple[str, ...] = FIELDS) -> bytes:
    """The bytes a row's MAC covers: the named fields in a fixed order, as canonical JSON."""
    return json.dumps([_value(values[n]) for n in names], ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def append(connection: Connection, values: dict[str, Any]) -> dict[str, Any]:
    """Chain and insert one audit row on `connection` (the caller's transaction); returns the row written."""
    key = get_platform().keys.symmetric_key(KEY_PURPOSE)
    table = McaAuditHead.__table__
    head = connection.execute(
        update(table).where(table.c.id == 1).values(seq=table.c.seq + 1).returning(table.c.seq, table.c.last_mac)
    ).first()
    if head is None:  # a database whose head row was never created (the migration creates it)
        connection.execute(insert(table).values(id=1, seq=1, last_mac=""))
        head = (1, "")
    row = {**values, "seq": head[0], "prev_mac": head[1], "key_id": key.key_id}
    row["mac"] = hmac_sm3(key.material, mac_input(row))
    connection.execute(insert(McaCallAudit.__table__).values(**row))
    connection.execute(update(table).where(table.c.id == 1).values(last_mac=row["mac"]))
    return row


def checkpoint(connection: Connection, through_seq: int, through_mac: str, removed: int, at: datetime) -> None:
    """Record where a purge cut the chain (MACed, so a forged checkpoint cannot hide a deletion)."""
    key = get_platform().keys.symmetric_key(KEY_PURPOSE)
    row = {"created_at": at, "through_seq": through_seq, "through_mac": through_mac, "removed": removed}
    row["key_id"] = key.key_id
    row["mac"] = hmac_sm3(key.material, mac_input(row, CHECKPOINT_FIELDS))
    connection.execute(insert(McaAuditCheckpoint.__table__).values(**row))


@dataclass
class ChainReport:
    """What `permitflow mca verify-audit` found."""

    checked: int = 0
    start_seq: int = 1
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row, the checkpoint and the head check out."""
        return not self.problems


class _Keys:
    def __init__(self) -> None:
        self._keys = get_platform().keys
        self._material: dict[str, bytes] = {}

    def get(self, key_id: str | None) -> bytes:
        if key_id not in self._material:
            try:
                self._material[key_id] = self._keys.symmetric_key(KEY_PURPOSE, key_id).material
            except Exception:  # an unknown key id is itself a finding, not a crash
                self._material[key_id] = b""
        return self._material[key_id]


def _rows(after: int, batch: int) -> Iterator[McaCallAudit]:
    last = after
    while True:
        query = select(McaCallAudit).where(McaCallAudit.seq > last).order_by(McaCallAudit.seq).limit(batch)
        rows = db.session.execute(query).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        db.session.expunge_all()


def _problem(report: ChainReport, seq: int | None, row_id: int | None, code: str, message: str) -> None:
    report.problems.append({"seq": seq, "id": row_id, "code": code, "message": message})


def verify(batch: int = 2000) -> ChainReport:
    """Walk the chain from the latest checkpoint: a changed or inserted row fails its MAC, a deleted one breaks
    the sequence and the link, a cut tail disagrees with the head, unchained rows are reported."""
    db.session.rollback()  # read what is committed now, not an older snapshot or identity-map copies
    keys = _Keys()
    report = ChainReport()
    expected_seq, prev_mac = 1, ""
    mark = db.session.execute(select(McaAuditCheckpoint).order_by(McaAuditCheckpoint.id.desc()).limit(1)).scalar()
    if mark is not None:
        values = {n: getattr(mark, n) for n in CHECKPOINT_FIELDS}
        if hmac_sm3(keys.get(mark.key_id), mac_input(values, CHECKPOINT_FIELDS)) != mark.mac:
            _problem(report, None, None, "CHECKPOINT_MISMATCH", "清理检查点的校验码不符（检查点被修改或伪造）")
        expected_seq, prev_mac = mark.through_seq + 1, mark.through_mac
    report.start_seq = expected_seq
    # Rows written before the chain existed (migration 0015) have no seq; one numbered after them was inserted.
    first_chained = db.session.execute(select(func.min(McaCallAudit.id)).where(McaCallAudit.seq.is_not(None))).scalar()
    legacy = McaCallAudit.id < first_chained if first_chained is not None else McaCallAudit.id.is_(None)
    query = select(McaCallAudit.id).where(McaCallAudit.seq.is_(None), ~legacy).limit(100)
    unchained = db.session.execute(query).scalars()
    for row_id in unchained:
        _problem(report, None, row_id, "UNCHAINED", f"记录{row_id}不在校验链中（被插入）")
    stale = db.session.execute(select(McaCallAudit.id).where(McaCallAudit.seq < expected_seq).limit(100)).scalars()
    for row_id in stale:
        _problem(report, None, row_id, "BEFORE_CHECKPOINT", f"记录{row_id}早于清理检查点却仍存在（被插入）")
    for row in _rows(expected_seq - 1, batch):
        report.checked += 1
        if row.seq != expected_seq:
            message = f"序号不连续：应为{expected_seq}，实际为{row.seq}（记录被删除）"
            _problem(report, row.seq, row.id, "SEQ_GAP", message)
        if row.prev_mac != prev_mac:
            message = f"第{row.seq}条记录与前一条的链接不符（前一条被删除、插入或修改）"
            _problem(report, row.seq, row.id, "CHAIN_BROKEN", message)
        key = keys.get(row.key_id)
        if not key:
            _problem(report, row.seq, row.id, "UNKNOWN_KEY", f"第{row.seq}条记录的密钥标识{row.key_id}无法识别")
        elif hmac_sm3(key, mac_input({n: getattr(row, n) for n in FIELDS})) != row.mac:
            _problem(report, row.seq, row.id, "MAC_MISMATCH", f"第{row.seq}条记录的校验码不符（内容被修改或伪造）")
        expected_seq, prev_mac = row.seq + 1, row.mac
    head = db.session.get(McaAuditHead, 1)
    head_seq, head_mac = (head.seq, head.last_mac) if head is not None else (0, "")
    if (head_seq, head_mac) != (expected_seq - 1, prev_mac):
        message = f"链尾与记录不符：应有{head_seq}条，最后为第{expected_seq - 1}条（末尾记录被删除）"
        _problem(report, None, None, "HEAD_MISMATCH", message)
    db.session.rollback()
    return report
