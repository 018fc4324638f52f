"""The listeners that make field protection automatic: seal on every ORM write, check on every load.

Installed when models.protection is imported (see that module for what is sealed and how).
"""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.attributes import flag_modified

from integrations.keys import KeyProviderError
from models.protection import (
    INDEX_PURPOSE,
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
    for name, kind in spec.encrypted.items():
        value = getattr(obj, name)
        if value is None or (isinstance(value, Sealed) and value.label == kind.label):
            continue
        previous = state.committed_state.get(name)
        if isinstance(previous, Sealed) and previous.label == kind.label and previous == value:
            setattr(obj, name, previous)  # the same value assigned again: keep its ciphertext
        else:
            setattr(obj, name, kind.seal(value))
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
    obj.integrity_mac = compute_mac(spec, mac_values(spec, obj))


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
    elif not mac_matches(spec, mac_values(spec, obj), obj.integrity_mac):
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
