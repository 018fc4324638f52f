"""Key management (A9) at run time: which provider the settings choose, and key rotation of stored data."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import String, bindparam, func, select, type_coerce
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Connection, make_url

from config import Settings
from integrations.http import HttpSettings
from integrations.keys import KeyManager, KmsKeyProvider, LocalKeyStore, parse_master_key
from models import db
from models.protection import (
    ENC_PURPOSE,
    INDEX_PURPOSE,
    MAC_PURPOSE,
    UNREADABLE,
    FieldProtection,
    Sealed,
    bound_to_row,
    current_keys,
    decrypt_value,
    key_id_of,
    legacy_plaintext,
    legacy_unbound,
    mac_matches,
    mac_values,
    seal_values,
    spec_of,
)
from processes.batches import id_batches

log = logging.getLogger(__name__)

DEV_MASTER_KEY_FILE = "master.key.DEV-ONLY"
KEYSTORE_FILE = "keystore.json"

# Tests without a keystore path share one in-memory keystore per database within a process, so that
# several apps on the same test database (and the CLI run in-process) read each other's protected rows.
_EPHEMERAL: dict[str, LocalKeyStore] = {}
_EPHEMERAL_LOCK = threading.Lock()


def build_key_provider(settings: Settings) -> KeyManager:
    """The key provider the settings choose (validated at start-up by Settings)."""
    if settings.KEY_PROVIDER == "kms":
        http = HttpSettings(
            connect_timeout=settings.HTTP_CONNECT_TIMEOUT,
            read_timeout=settings.HTTP_READ_TIMEOUT,
            retries=settings.HTTP_RETRIES,
            circuit_failures=settings.CIRCUIT_FAILURES,
            circuit_reset_seconds=settings.CIRCUIT_RESET_SECONDS,
        )
        token = settings.KMS_TOKEN or "development"
        return KmsKeyProvider(settings.KMS_URL, token, http, current_ttl=settings.KMS_CURRENT_TTL_SECONDS)
    if settings.PERMITFLOW_ENV == "test" and not settings.KEYSTORE_PATH:
        with _EPHEMERAL_LOCK:
            store = _EPHEMERAL.get(settings.DATABASE_URL)
            if store is None:
                master = parse_master_key(settings.PERMITFLOW_MASTER_KEY) if settings.PERMITFLOW_MASTER_KEY else None
                store = LocalKeyStore(master or secrets.token_bytes(16))
                _EPHEMERAL[settings.DATABASE_URL] = store
            return store
    path = keystore_path(settings)
    if settings.PERMITFLOW_MASTER_KEY:
        master = parse_master_key(settings.PERMITFLOW_MASTER_KEY)
    else:
        master = _development_master_key(settings, path.parent / DEV_MASTER_KEY_FILE)
    return LocalKeyStore(master, path)


def keystore_path(settings: Settings) -> Path:
    """The local keystore file: the configured one, else next to the SQLite database, else in DATA_DIR."""
    if settings.KEYSTORE_PATH:
        return Path(settings.KEYSTORE_PATH).resolve()
    if settings.is_sqlite:
        database = make_url(settings.DATABASE_URL).database
        if database and database != ":memory:":
            return Path(database).resolve().parent / KEYSTORE_FILE
    return Path(settings.DATA_DIR).resolve() / KEYSTORE_FILE


def _development_master_key(settings: Settings, path: Path) -> bytes:
    # Settings refuse production without PERMITFLOW_MASTER_KEY; this is the embedded development default.
    if settings.PERMITFLOW_ENV == "production":  # defence in depth: never reached with validated settings
        raise RuntimeError("PERMITFLOW_MASTER_KEY must be set in production")
    if path.exists():
        master = parse_master_key(path.read_text(encoding="ascii"))
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x", encoding="ascii", opener=_private_file) as handle:
                handle.write(secrets.token_hex(16) + "\n")
        except FileExistsError:
            pass  # another process made it a moment ago
        master = parse_master_key(path.read_text(encoding="ascii"))
    log.warning(
        "DEVELOPMENT MASTER KEY IN USE: %s wraps every data key and lies next to the data it protects. "
        "Set PERMITFLOW_MASTER_KEY from a secret store for any real data; production refuses to start without it.",
        path,
    )
    return master


def _private_file(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


# --- re-protecting stored data (rotation, and migration 0005's first sealing) ------------------------------


@dataclass
class TableResult:
    """What re-protection did to one table."""

    table: str
    scanned: int = 0
    rewritten: int = 0
    tampered: list[tuple[Any, str]] = field(default_factory=list)  # (row id, reason): left untouched
    stale_left: int = 0  # rows still on an old key after the last pass (written meanwhile by a stale process)


def protected_models() -> list[type]:
    """Every model class with encrypted fields or a key-field MAC, in table order."""
    # Not only the mixins': a model that declares an Encrypted column without one is protected all the same.
    found = [
        m.class_
        for m in db.Model.registry.mappers
        if issubclass(m.class_, FieldProtection) or spec_of(m.class_).encrypted
    ]
    return sorted(found, key=lambda cls: cls.__table__.name)


def reprotect(
    models: list[type] | None = None,
    *,
    batch: int = 500,
    connection: Connection | None = None,
    passes: int = 3,
    first_seal: tuple[str, ...] = (),
) -> list[TableResult]:
    """Bring every protected row onto the current keys: re-encrypt, re-index and re-MAC in id batches.

    Each batch is its own transaction (unless `connection` is given, as migrations do) and each row update
    is conditional on the row being unchanged since it was read, so concurrent business writes are never
    overwritten; the system keeps serving because readers accept every known key id. A row whose MAC does
    not verify is never re-sealed (that would launder tampering): it is reported instead, except in the
    `first_seal` tables, whose rows get their first MAC (the migration that adds the MAC column).
    """
    results = []
    for model in models or protected_models():
        spec = _spec_at_revision(model, connection)
        result = TableResult(model.__table__.name)
        for attempt in range(max(1, passes)):
            rewritten = _reprotect_pass(
                model, spec, result, batch, connection, count_scanned=attempt == 0, first_seal=first_seal
            )
            if not rewritten:
                break
        result.stale_left = _reprotect_pass(
            model, spec, TableResult(result.table), batch, connection, count_only=True, first_seal=first_seal
        )
        results.append(result)
    return results


def _spec_at_revision(model: type, connection: Connection | None) -> Any:
    # A migration runs with today's models: a table sealed by a later revision (sms_block, 0014) has no MAC
    # column yet when an earlier one (0005) re-protects it, so it is encrypted and indexed only.
    spec = spec_of(model)
    if connection is None or not spec.mac:
        return spec
    columns = {c["name"] for c in sa_inspect(connection).get_columns(model.__table__.name)}
    return spec if "integrity_mac" in columns else replace(spec, mac=False)


def _reprotect_pass(
    model: type,
    spec: Any,
    result: TableResult,
    batch: int,
    connection: Connection | None,
    count_only: bool = False,
    count_scanned: bool = False,
    first_seal: tuple[str, ...] = (),
) -> int:
    table = model.__table__
    keys = current_keys()
    current = {purpose: keys.symmetric_key(purpose) for purpose in (ENC_PURPOSE, INDEX_PURPOSE, MAC_PURPOSE)}
    raw = [name for name in spec.encrypted] + list(spec.indexes.values()) + (["integrity_mac"] if spec.mac else [])
    plain_fields = [name for name in spec.fields if name not in spec.encrypted]
    columns = [table.c.id, *(type_coerce(table.c[n], String).label(n) for n in raw)]
    columns += [table.c[n] for n in plain_fields]
    update = _conditional_update(table, raw, spec)
    rewritten, tampered_seen = 0, {row_id for row_id, _ in result.tampered}
    for conn, rows in id_batches(select(*columns), table.c.id, batch, connection):
        params = []
        for row in rows:
            result.scanned += count_scanned
            stored = dict(row)
            for name, kind in spec.encrypted.items():
                if row[name]:
                    stored[name] = Sealed(
                        decrypt_value(row[name], kind.label, row["id"], keys), row[name], kind.label, row["id"]
                    )
            if any(stored[n] == UNREADABLE for n in spec.encrypted if stored[n] is not None):
                if row["id"] not in tampered_seen:
                    result.tampered.append((row["id"], "undecryptable"))
                    tampered_seen.add(row["id"])
                continue
            # Only the migration adding a MAC may seal a row without one; otherwise a missing MAC is tampering.
            sealing_legacy = (legacy_plaintext.get() or spec.table in first_seal) and not row.get("integrity_mac")
            if (
                spec.mac
                and not sealing_legacy
                and not mac_matches(spec, mac_values(spec, stored), row["id"], row["integrity_mac"], keys)
            ):
                if row["id"] not in tampered_seen:
                    result.tampered.append((row["id"], "mac_mismatch" if row["integrity_mac"] else "mac_missing"))
                    tampered_seen.add(row["id"])
                continue
            if not _stale(row, spec, current) and not (legacy_unbound.get() and _unbound(row, stored, spec, keys)):
                continue
            rewritten += 1
            if count_only:
                continue
            clear = {n: (None if v is None else str(v)) if n in spec.encrypted else v for n, v in stored.items()}
            sealed = seal_values(spec, clear, current)
            item = {"b_id": row["id"], **{f"old_{n}": row[n] or "" for n in raw}}
            item.update({f"new_{n}": sealed[n] for n in raw})
            params.append(item)
        if params:
            conn.execute(update, params)
        result.rewritten += len(params)
    return rewritten


def _stale(row: Any, spec: Any, current: dict[str, Any]) -> bool:
    for name in spec.encrypted:
        if row[name] and key_id_of(row[name]) != current[ENC_PURPOSE].key_id:
            return True
    for index in spec.indexes.values():
        if row[index] and key_id_of(row[index]) != current[INDEX_PURPOSE].key_id:
            return True
    for column, index in spec.indexes.items():
        if row[column] and not row[index]:
            return True
    return spec.mac and key_id_of(row["integrity_mac"]) != current[MAC_PURPOSE].key_id


def _unbound(row: Any, stored: dict[str, Any], spec: Any, keys: Any) -> bool:
    # Migration 0014: a value or MAC not yet bound to its row id is rewritten even if its keys are current.
    for name, kind in spec.encrypted.items():
        if row[name] and not bound_to_row(row[name], kind.label, row["id"], keys):
            return True
    if not spec.mac:
        return False
    token = legacy_unbound.set(False)
    try:
        return not mac_matches(spec, mac_values(spec, stored), row["id"], row["integrity_mac"], keys)
    finally:
        legacy_unbound.reset(token)


def _conditional_update(table: Any, raw: list[str], spec: Any) -> Any:
    # Only if nothing we read has changed since: a concurrent business write wins, the next pass retries.
    conditions = [table.c.id == bindparam("b_id")]
    conditions += [func.coalesce(type_coerce(table.c[n], String), "") == bindparam(f"old_{n}") for n in raw]
    values: dict[str, Any] = {n: bindparam(f"new_{n}") for n in spec.encrypted}  # encrypted by the column type
    values.update({index: bindparam(f"new_{index}") for index in spec.indexes.values()})
    if spec.mac:
        values["integrity_mac"] = bindparam("new_integrity_mac")
    return sa_update(table).where(*conditions).values(values)


DATA_PURPOSES = (ENC_PURPOSE, INDEX_PURPOSE, MAC_PURPOSE)  # purposes whose keys protect stored rows


def rotate_keys(purposes: list[str], *, batch: int = 500) -> tuple[dict[str, str], list[TableResult]]:
    """Make a new current key for each purpose, then re-protect stored rows if a data purpose rotated.

    Returns ({purpose: new key id}, per-table results). Audited as `keys.rotate`.
    """
    keys = current_keys()
    new_ids = {purpose: keys.rotate(purpose) for purpose in purposes}
    results = reprotect(batch=batch) if set(purposes) & set(DATA_PURPOSES) else []
    _audit(
        "keys.rotate",
        {
            "new_keys": new_ids,
            "rewritten": sum(r.rewritten for r in results),
            "tampered": sum(len(r.tampered) for r in results),
        },
    )
    return new_ids, results


def _audit(event: str, details: dict[str, Any]) -> None:
    try:
        from processes import audit
    except ImportError:  # pragma: no cover - the audit trail is another part of the system
        log.warning("%s: %s", event, details)
        return
    audit.log(event, object_type="keys", details=details)
