"""Field protection at the model layer (S1, A9): SM4 encryption at rest, blind indexes and key-field MACs.

A model declares its protection in its class body and nothing else has to remember it:
  * `Encrypted(max_chars, "table.column", index="column_bidx")` — the column holds
    "field-enc:N$base64(SM4-GCM)" (the key id travels with the value; the GCM associated data is the label
    and the row id, so a value copied into another column or another row does not decrypt: selects read
    "ciphertext#id" through the type's column expression). `==`, `!=` and `in_()` on it compare the
    companion blind-index column instead, so a query can never compare ciphertexts by mistake.
  * `blind_index_column()` — "blind-index:N$HMAC-SM3(value)", maintained on every write.
  * `Protected` mixin + `__protected__ = (...)` — an HMAC-SM3 MAC ("field-mac:N$hex") over a
    canonical encoding of the row id, the declared key fields (encrypted ones as their ciphertext) and the
    blind indexes, recomputed on every ORM write; it is also the row's optimistic version. A row whose MAC
    does not match when it is loaded is flagged; writing a flagged row is refused (a business write
    must never "launder" tampered data by re-sealing it).
Key material comes from the app's key provider (`Platform.keys`), reached through an accessor the platform
installs (`set_key_provider_accessor`): the model layer knows no Flask.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import Boolean, Date, DateTime, Integer, String, TypeDecorator, cast, literal, type_coerce
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.sql import operators

from integrations.crypto import SM4DecryptError, sm4_gcm_decrypt, sm4_gcm_encrypt
from integrations.keys import KeyProvider, KeyProviderError, SymmetricKey
from processes.errors import Conflict

ENC_PURPOSE = "field-enc"
MAC_PURPOSE = "field-mac"
INDEX_PURPOSE = "blind-index"
UNREADABLE = "\ufffd[无法解密]"  # what a ciphertext that fails its check reads as; it never matches a MAC
INDEX_LENGTH = 100
MAC_LENGTH = 100

alert_log = logging.getLogger("permitflow.security")
# Set only while migration 0005 converts clear values written before encryption existed.
legacy_plaintext: contextvars.ContextVar[bool] = contextvars.ContextVar("legacy_plaintext", default=False)
# Set only while migration 0014 re-protects rows sealed before values and MACs were bound to the row id.
legacy_unbound: contextvars.ContextVar[bool] = contextvars.ContextVar("legacy_unbound", default=False)
PENDING = "field-enc:pending$"  # what an INSERT writes before the row has an id (replaced in the same flush)


class TamperedRecord(Conflict):
    """A protected record failed its integrity check and is refused for business use."""

    status = 409

    def __init__(self, table: str, row_id: Any, reason: str = "mac_mismatch") -> None:
        super().__init__(
            "RECORD_TAMPERED",
            "该记录完整性校验未通过（疑似被篡改），已禁止业务使用并已告警，请联系安全管理员核查",
            {"table": table, "id": row_id, "reason": reason},
        )
        self.table, self.row_id, self.reason = table, row_id, reason


_key_provider_accessor: Callable[[], KeyProvider] | None = None


def set_key_provider_accessor(accessor: Callable[[], KeyProvider]) -> None:
    """Install how field protection finds the current key provider (processes.platform.init_app does)."""
    global _key_provider_accessor
    _key_provider_accessor = accessor


def current_keys() -> KeyProvider:
    """The current key provider, through the installed accessor (the current app's `Platform.keys`)."""
    if _key_provider_accessor is None:
        raise RuntimeError("no key provider accessor installed: create the app (processes.platform.init_app) first")
    return _key_provider_accessor()


def cipher_length(max_chars: int) -> int:
    """Stored length of an encrypted value of at most max_chars characters (UTF-8 ≤ 4 bytes each)."""
    raw = 12 + 4 * max_chars + 16  # nonce + ciphertext + tag
    return 24 + 4 * ((raw + 2) // 3)  # "field-enc:NNN$" + base64


def associated_data(label: str, row_id: Any) -> bytes:
    """The SM4-GCM associated data of a value: its column and its row (None: the pre-0014 column-only form)."""
    return (label if row_id is None else f"{label}#{row_id}").encode("utf-8")


def encrypt_value(value: str, label: str, row_id: Any, key: SymmetricKey | None = None) -> str:
    """ "key_id$base64(SM4-GCM(value))" bound to the column and row, under the current (or given) key."""
    if row_id is None:
        raise ValueError(f"{label}: a value is encrypted for a row id (bound to its row)")
    key = key or current_keys().symmetric_key(ENC_PURPOSE)
    blob = sm4_gcm_encrypt(key.material, value.encode("utf-8"), associated_data(label, row_id))
    return f"{key.key_id}${base64.b64encode(blob).decode('ascii')}"


def decrypt_value(stored: str, label: str, row_id: Any, keys: KeyProvider | None = None) -> str:
    """The clear value of a stored ciphertext of a row; UNREADABLE (and an alert) when it fails its check."""
    key_id, sep, blob = stored.partition("$")
    if not sep or not key_id.startswith(ENC_PURPOSE + ":"):
        if legacy_plaintext.get():
            return stored
        alert_log.error("field %s holds a value that is not a ciphertext", label)
        return UNREADABLE
    try:
        key = (keys or current_keys()).symmetric_key(ENC_PURPOSE, key_id)
        raw = base64.b64decode(blob, validate=True)
        if row_id is None:
            raise ValueError("no row id to check the value against")
        try:
            return sm4_gcm_decrypt(key.material, raw, associated_data(label, row_id)).decode("utf-8")
        except SM4DecryptError:
            if not legacy_unbound.get():
                raise
            return sm4_gcm_decrypt(key.material, raw, associated_data(label, None)).decode("utf-8")
    except (SM4DecryptError, KeyProviderError, binascii.Error, ValueError, UnicodeDecodeError) as exc:
        alert_log.error(
            "field %s of row %s does not decrypt (%s): tampered, moved, or its key %s is gone",
            label,
            row_id,
            exc,
            key_id,
        )
        return UNREADABLE


def key_id_of(stored: str | None) -> str | None:
    """The key id a stored ciphertext, blind index or MAC carries."""
    if not stored:
        return None
    key_id, sep, _ = stored.partition("$")
    return key_id if sep else None


class Sealed(str):
    """A decrypted (or just encrypted) value that remembers its stored ciphertext, which the MAC covers."""

    stored: str | None
    label: str  # the column whose ciphertext this is: copied into another column, it is encrypted anew
    row_id: Any  # the row it is bound to: copied into another row, it is encrypted anew

    def __new__(cls, clear: str, stored: str | None, label: str, row_id: Any = None) -> Sealed:
        value = super().__new__(cls, clear)
        value.stored, value.label, value.row_id = stored, label, row_id
        return value

    def fits(self, label: str, row_id: Any) -> bool:
        """True when the stored ciphertext is the one for this column of this row."""
        return self.stored is not None and self.label == label and row_id is not None and self.row_id == row_id

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles are plain strings: never stale ciphertext
        return (str, (str(self),))


def stored_form(value: Any) -> str | None:
    """The ciphertext a value of an encrypted column is (or will be) stored as."""
    return value.stored if isinstance(value, Sealed) else None


def blind_index(value: str, key: SymmetricKey | None = None) -> str:
    """ "key_id$hex HMAC-SM3(value)" under the current (or given) blind-index key."""
    key = key or current_keys().symmetric_key(INDEX_PURPOSE)
    return f"{key.key_id}${hmac.new(key.material, value.encode('utf-8'), 'sm3').hexdigest()}"


def blind_indexes(value: str) -> list[str]:
    """The value's index under every known blind-index key: matches rows written before and after a rotation."""
    keys = current_keys()
    ids = keys.key_ids(INDEX_PURPOSE) if hasattr(keys, "key_ids") else [None]
    return [blind_index(value, keys.symmetric_key(INDEX_PURPOSE, key_id)) for key_id in ids]


class Encrypted(TypeDecorator):
    """A string column stored SM4-GCM-encrypted, optionally searchable through a blind-index column."""

    impl = String
    cache_ok = True

    def __init__(self, max_chars: int, label: str, index: str | None = None) -> None:
        super().__init__(cipher_length(max_chars))
        self.max_chars = max_chars
        self.label = label
        self.index = index

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, Sealed) and value.stored is not None and value.label == self.label:
            return value.stored  # encrypted for its row when the row was sealed: the MAC covers this ciphertext
        # A ciphertext is bound to its row id, which a bare value does not know: ORM writes seal through the
        # mapper events, Core writes through seal_values.
        raise ValueError(f"{self.label}: write values through the ORM or models.protection.seal_values")

    def column_expression(self, colexpr: Any) -> Any:
        # Selects read "ciphertext#row id": decryption checks the value against the row it was read from.
        table = getattr(colexpr, "table", None)
        row_id = table.c.get("id") if table is not None and hasattr(table, "c") else None
        if row_id is None:
            return colexpr  # e.g. a subquery without the id: the value reads as UNREADABLE
        joined = type_coerce(colexpr, String).op("||")(literal("#", String)).op("||")(cast(row_id, String))
        return type_coerce(joined, self)

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        stored, sep, row_id = value.rpartition("#")
        if not sep:  # the raw column, without its row id
            stored, row_id = value, None
        return Sealed(decrypt_value(stored, self.label, row_id), stored, self.label, _row_key(row_id))

    def seal(self, value: Any, row_id: Any, key: SymmetricKey | None = None) -> Sealed:
        """The value with a fresh ciphertext for the row under the current (or given) field-encryption key."""
        text = str(value)
        if len(text) > self.max_chars:
            raise ValueError(f"{self.label} is longer than {self.max_chars} characters")
        return Sealed(text, encrypt_value(text, self.label, row_id, key), self.label, row_id)

    class comparator_factory(TypeDecorator.Comparator):
        """==, != and in_() go to the blind index; anything else on ciphertext is a programming error."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op in (operators.eq, operators.ne) and other and other[0] is not None:
                values = [other[0]]
            elif op in (operators.in_op, operators.not_in_op) and other:
                values = list(other[0])
            elif op in (operators.is_, operators.is_not) or (op in (operators.eq, operators.ne) and other):
                return super().operate(op, *other, **kwargs)
            else:
                raise TypeError(f"encrypted column {self.type.label} supports only ==, != and in_() (blind index)")
            if self.type.index is None:
                raise TypeError(f"encrypted column {self.type.label} has no blind index and cannot be searched")
            if any(not isinstance(v, str) for v in values):
                raise TypeError(f"{self.type.label} is compared with plain strings only")
            index = self.expr.table.c[self.type.index]
            digests = [d for v in values for d in blind_indexes(v)]
            return index.not_in(digests) if op in (operators.ne, operators.not_in_op) else index.in_(digests)


def _row_key(row_id: str | None) -> Any:
    # Ids are integers in every PermitFlow table; as text they come back from the "ciphertext#id" select.
    return int(row_id) if row_id and row_id.isdigit() else row_id


def blind_index_column(*, unique: bool = False) -> Mapped[str | None]:
    """The companion column of a searchable Encrypted column (kept up to date on every write)."""
    return mapped_column(String(INDEX_LENGTH), unique=unique, index=not unique)


# --- canonical encoding and MACs ------------------------------------------------------------------------


def _canon_factory(column: Any) -> Callable[[Any], str]:
    kind = column.type
    if isinstance(kind, Boolean):
        return lambda v: "1" if v else "0"
    if isinstance(kind, Integer):
        return lambda v: str(int(v))
    if isinstance(kind, DateTime) or getattr(kind, "impl", None).__class__ is DateTime:
        return lambda v: v.astimezone(UTC).isoformat() if isinstance(v, datetime) else str(v)
    if isinstance(kind, Date):
        return lambda v: v.isoformat() if isinstance(v, date) else str(v)
    if isinstance(kind, String | Encrypted) or isinstance(getattr(kind, "impl", None), String):
        return str
    return lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class ProtectionSpec:
    """What a protected table seals, derived once from its model.

    The MAC covers `mac_columns`: the declared key fields — encrypted ones in their stored (ciphertext)
    form, so a scan needs no decryption and a ciphertext moved between rows breaks the MAC — followed
    by the blind-index columns, so a forged index (which would let a search find the wrong person) does too.
    """

    table: str
    fields: tuple[str, ...]  # declared key fields, in declaration order
    mac_columns: tuple[str, ...]  # fields + blind-index columns
    canon: tuple[Callable[[Any], str], ...]
    encrypted: dict[str, Encrypted]  # every encrypted column (declared or not)
    indexes: dict[str, str]  # encrypted column → its blind-index column
    mac: bool

    def message(self, values: Iterable[Any], row_id: Any) -> bytes:
        """Canonical bytes of the row id and the MAC columns' values (length-prefixed: no two encodings collide)."""
        # Without a row id: the pre-0014 encoding, read only while migration 0014 re-protects old rows.
        parts = [self.table] if row_id is None else [self.table, f"id={row_id}"]
        for name, canon, value in zip(self.mac_columns, self.canon, values, strict=True):
            if value is None:
                parts.append(name + "=-")
            else:
                text = canon(value)
                parts.append(f"{name}={len(text)}:{text}")
        return "\x1f".join(parts).encode("utf-8")


_SPECS: dict[type, ProtectionSpec] = {}


def spec_of(cls: type) -> ProtectionSpec:
    """The protection spec of a model class."""
    spec = _SPECS.get(cls)
    if spec is None:
        table = cls.__table__  # every PermitFlow model maps one table
        fields = tuple(getattr(cls, "__protected__", ()))
        encrypted = {c.name: c.type for c in table.columns if isinstance(c.type, Encrypted)}
        indexes = {name: t.index for name, t in encrypted.items() if t.index}
        mac_columns = fields + tuple(indexes.values())
        spec = ProtectionSpec(
            table=table.name,
            fields=fields,
            mac_columns=mac_columns,
            canon=tuple(_canon_factory(table.c[name]) for name in mac_columns),
            encrypted=encrypted,
            indexes=indexes,
            mac=issubclass(cls, Protected),
        )
        _SPECS[cls] = spec
    return spec


def compute_mac(spec: ProtectionSpec, values: Iterable[Any], row_id: Any, key: SymmetricKey | None = None) -> str:
    """ "key_id$hex" HMAC-SM3 of the row's canonical encoding under the current (or given) field-MAC key."""
    if row_id is None:
        raise ValueError(f"{spec.table}: a MAC is computed for a row id (bound to its row)")
    key = key or current_keys().symmetric_key(MAC_PURPOSE)
    return f"{key.key_id}${hmac.new(key.material, spec.message(values, row_id), 'sm3').hexdigest()}"


def mac_matches(
    spec: ProtectionSpec, values: Iterable[Any], row_id: Any, stored: str | None, keys: KeyProvider | None = None
) -> bool:
    """True when the stored MAC is valid for the row's values under the key id it names."""
    key_id = key_id_of(stored)
    if key_id is None or not key_id.startswith(MAC_PURPOSE + ":"):
        return False
    try:
        key = (keys or current_keys()).symmetric_key(MAC_PURPOSE, key_id)
    except KeyProviderError:
        return False
    values = list(values)
    if row_id is not None and hmac.compare_digest(compute_mac(spec, values, row_id, key), stored):
        return True
    if not legacy_unbound.get():
        return False
    legacy = f"{key.key_id}${hmac.new(key.material, spec.message(values, None), 'sm3').hexdigest()}"
    return hmac.compare_digest(legacy, stored)


def bound_to_row(stored: str, label: str, row_id: Any, keys: KeyProvider) -> bool:
    """True when a stored ciphertext decrypts as this column of this row (quietly: used to find old rows)."""
    key_id, sep, blob = stored.partition("$")
    try:
        key = keys.symmetric_key(ENC_PURPOSE, key_id)
        sm4_gcm_decrypt(key.material, base64.b64decode(blob, validate=True), associated_data(label, row_id))
    except (SM4DecryptError, KeyProviderError, binascii.Error, ValueError):
        return False
    return bool(sep)


class FieldProtection:
    """Mixin of models with encrypted columns: blind indexes are maintained on every ORM write."""


class Protected(FieldProtection):
    """Mixin of models whose declared key fields are sealed by an HMAC-SM3 MAC (S1)."""

    __protected__: ClassVar[tuple[str, ...]] = ()
    integrity_mac: Mapped[str | None] = mapped_column(String(MAC_LENGTH))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # The MAC doubles as an optimistic version: an UPDATE only applies if the row still has the MAC
        # it was read with. Otherwise two writers changing different columns of one row (or a writer and
        # `keys rotate`) could leave a MAC over a mix neither of them sealed; now the second gets a 409.
        return {"version_id_col": cls.__table__.c.integrity_mac, "version_id_generator": False}


def integrity_state(obj: Any) -> str | None:
    """None when the loaded record checked out (or is new); else why it is flagged ("mac_mismatch", …)."""
    return obj.__dict__.get("_pf_integrity")


def mac_values(spec: ProtectionSpec, row: Any) -> list[Any]:
    """The values the MAC covers, from an object or a mapping: encrypted fields in their stored form."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return [stored_form(get(n)) if n in spec.encrypted else get(n) for n in spec.mac_columns]


def seal_values(
    spec: ProtectionSpec, row: dict[str, Any], keys: dict[str, SymmetricKey] | None = None
) -> dict[str, Any]:
    """Encrypt, index and (for Protected tables) MAC a row given as a dict of clear values, in place.

    For Core inserts and re-protection; the row must carry its id (values and MAC are bound to it);
    `keys` may fix the purposes' keys (default: the current ones).
    """
    row_id = row.get("id")
    provider = current_keys()
    keys = keys or {}
    enc = keys.get(ENC_PURPOSE) or provider.symmetric_key(ENC_PURPOSE)
    index_key = keys.get(INDEX_PURPOSE) or provider.symmetric_key(INDEX_PURPOSE)
    for name, kind in spec.encrypted.items():
        value = row.get(name)
        row[name] = None if value is None else kind.seal(value, row_id, enc)
    for column, index in spec.indexes.items():
        value = row.get(column)
        row[index] = None if value is None else blind_index(str(value), index_key)
    if spec.mac:
        row["integrity_mac"] = compute_mac(spec, mac_values(spec, row), row_id, keys.get(MAC_PURPOSE))
    return row


# The mapper and session listeners that apply all of this on every write and load.
from models import protection_events  # noqa: E402, F401
