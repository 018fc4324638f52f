"""The listeners that make field protection automatic: seal on every ORM write, check on every load.

Installed when models.protection is imported (see that module for what is sealed and how). Values and MACs
are bound to the row id, which a new row only has after its INSERT: the INSERT writes blind indexes and a
PENDING marker in each encrypted column; `after_insert` encrypts and MACs for the new id, and the end of the
flush writes them with one executemany UPDATE per table, in the same transaction (rows inserted with an
explicit id are sealed before the INSERT instead).
"""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import bindparam, event, inspect
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Mapper, Session, object_session
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from integrations.keys import KeyProviderError
from models.protection import (
    INDEX_PURPOSE,
    PENDING,
    UNREADABLE,
    Protected,
    ProtectionSpec,
    Sealed,
    TamperedRecord,
    alert_log,
    blind_index,
    compute_mac,
    current_keys,
    integrity_state,
    key_id_of,
    mac_matches,
    mac_values,
    spec_of,
)


def _apply_defaults(mapper: Any, obj: Any, spec: ProtectionSpec) -> None:
    # Column defaults are applied by the INSERT, after this event: apply them now so the MAC sees them.
    for name in spec.fields:
        column = mapper.columns[name]
        if getattr(obj, name) is None and column.default is not None:
            default = column.default
            if default.is_scalar:
                setattr(obj, name, default.arg)
            elif default.is_callable:
                setattr(obj, name, default.arg(None))


def _seal(mapper: Any, connection: Any, obj: Any) -> None:
    spec = spec_of(type(obj))
    if not spec.encrypted and not spec.mac:
        return  # most tables: nothing to protect
    if spec.mac and integrity_state(obj) is not None:
        raise TamperedRecord(spec.table, obj.id, integrity_state(obj))
    state = inspect(obj)
    row_id = obj.id
    for name, kind in spec.encrypted.items():
        value = getattr(obj, name)
        if value is None or (isinstance(value, Sealed) and value.fits(kind.label, row_id)):
            continue
        previous = state.committed_state.get(name)
        if isinstance(previous, Sealed) and previous.fits(kind.label, row_id) and previous == value:
            setattr(obj, name, previous)  # the same value assigned again: keep its ciphertext
        elif row_id is None:
            setattr(obj, name, Sealed(str(value), PENDING, kind.label))  # encrypted in _seal_new_row
        else:
            setattr(obj, name, kind.seal(value, row_id))
            flag_modified(obj, name)  # written even if equal to the old clear value: the MAC covers it
    for column, index in spec.indexes.items():
        value = getattr(obj, column)
        current = getattr(obj, index)
        # Keep an index that is already right for its key (a re-sent row must not churn); else recompute.
        if value is None:
            setattr(obj, index, None)
        elif not (current and _index_matches(str(value), current)):
            setattr(obj, index, blind_index(str(value)))
    if not spec.mac:
        return
    _apply_defaults(mapper, obj, spec)
    obj.integrity_mac = None if row_id is None else compute_mac(spec, mac_values(spec, obj), row_id)


def _seal_new_row(mapper: Any, connection: Any, obj: Any) -> None:
    # The row has its id now: encrypt for it, MAC it, and write both with one UPDATE in the same flush.
    spec = spec_of(type(obj))
    if not spec.encrypted and not spec.mac:
        return
    row_id = obj.id
    values: dict[str, Any] = {}
    for name, kind in spec.encrypted.items():
        value = obj.__dict__.get(name)
        if isinstance(value, Sealed) and value.stored == PENDING:
            values[name] = kind.seal(str(value), row_id)
    if spec.mac and obj.__dict__.get("integrity_mac") is None:
        for name, value in values.items():
            set_committed_value(obj, name, value)
        values["integrity_mac"] = compute_mac(spec, mac_values(spec, obj), row_id)
    if not values:
        return  # sealed before the INSERT (the id was given)
    for name, value in values.items():
        set_committed_value(obj, name, value)  # the MAC is the version the next UPDATE expects
    session = object_session(obj)
    pending = session.info.setdefault(_PENDING_KEY, {}) if session is not None else None
    if pending is None:  # not flushed by a session (never the case in PermitFlow): write it now
        _write_bound(connection, mapper.local_table, [{"b_id": row_id, **values}])
        return
    pending.setdefault((mapper.local_table, tuple(values)), []).append({"b_id": row_id, **values})


_PENDING_KEY = "pf_bind_new_rows"


def _write_bound(connection: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    names = [name for name in rows[0] if name != "b_id"]
    statement = sa_update(table).where(table.c.id == bindparam("b_id")).values({n: bindparam(n) for n in names})
    connection.execute(statement, rows)


@event.listens_for(Session, "before_flush")
def _forget_unwritten(session: Session, *args: Any) -> None:
    session.info.pop(_PENDING_KEY, None)  # from a flush that failed (and was rolled back): never written


@event.listens_for(Session, "after_flush")
def _write_new_rows(session: Session, flush_context: Any) -> None:
    # Still inside the flush's transaction: the rows never exist committed without their ciphertexts and MAC.
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    connection = session.connection()
    for (table, _), rows in pending.items():
        _write_bound(connection, table, rows)


def _index_matches(value: str, stored: str) -> bool:
    key_id = key_id_of(stored)
    if key_id is None or not key_id.startswith(INDEX_PURPOSE + ":"):
        return False
    try:
        key = current_keys().symmetric_key(INDEX_PURPOSE, key_id)
    except KeyProviderError:
        return False
    return hmac.compare_digest(blind_index(value, key), stored)


def _check_loaded(obj: Any, *args: Any) -> None:
    spec = spec_of(type(obj))
    state = inspect(obj)
    if any(name in state.unloaded for name in (*spec.mac_columns, "integrity_mac")):
        return  # partially loaded: checked when it is loaded in full
    reason = None
    if any(getattr(obj, name) == UNREADABLE for name in spec.encrypted):
        reason = "undecryptable"
    elif not mac_matches(spec, mac_values(spec, obj), obj.id, obj.integrity_mac):
        reason = "mac_missing" if not obj.integrity_mac else "mac_mismatch"
    if reason is None:
        obj.__dict__.pop("_pf_integrity", None)
        return
    obj.__dict__["_pf_integrity"] = reason
    alert_log.critical(
        "INTEGRITY ALERT: %s id=%s failed its key-field check (%s)",
        spec.table,
        obj.id,
        reason,
        extra={"table": spec.table, "row_id": obj.id, "reason": reason},
    )


# On every mapper, not only the mixins': a model that declares an Encrypted column with a blind index
# gets it maintained whether or not it remembered a mixin.
event.listen(Mapper, "before_insert", _seal)
event.listen(Mapper, "before_update", _seal)
event.listen(Mapper, "after_insert", _seal_new_row)
event.listen(Protected, "load", _check_loaded, propagate=True)
event.listen(Protected, "refresh", _check_loaded, propagate=True)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_writes(state: Any) -> None:
    # A bulk UPDATE through the session skips the mapper events, so it would leave stale MACs and blind
    # indexes (the rows would then read as tampered): protected rows are changed object by object. (Bulk
    # INSERTs are allowed for rows sealed with models.protection.seal_values; an unsealed row has no MAC
    # and is reported by every check.)
    if not state.is_update:
        return
    mapper = state.bind_mapper
    if mapper is None:
        return
    spec = spec_of(mapper.class_)
    if not spec.encrypted and not spec.mac:
        return
    values = getattr(state.statement, "_values", None) or {}  # SET clause; empty when unknowable
    names = {str(getattr(key, "key", key)) for key in values}
    sensitive = {*spec.encrypted, *spec.indexes.values()}
    if spec.mac:
        sensitive |= {*spec.mac_columns, "integrity_mac"}
    if names and not names & sensitive:
        return  # e.g. an SMS status change: nothing sealed or encrypted is touched
    raise RuntimeError(f"{mapper.class_.__name__} is protected: change it through ORM objects, not bulk SQL")
