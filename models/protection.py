"""Field protection at the model layer (S1, A9): SM4 encryption at rest, blind indexes and key-field MACs.

A model declares its protection in its class body and nothing else has to remember it:
  * `Encrypted(max_chars, "table.column", index="column_bidx")` — the column holds
    "field-enc:N$base64(SM4-GCM)" (the key id travels with the value; the label is the GCM AAD, so a
    value copied into another column does not decrypt). `==`, `!=` and `in_()` on it compare the
    companion blind-index column instead, so a query can never compare ciphertexts by mistake.
  * `blind_index_column()` — "blind-index:N$HMAC-SM3(value)", maintained on every write.
  * `Protected` mixin + `__protected__ = (...)` — an HMAC-SM3 MAC ("field-mac:N$hex") over a
    canonical encoding of the declared key fields (encrypted ones as their ciphertext) and the blind
    indexes, recomputed on every ORM write; it is also the row's optimistic version. A row whose MAC
    does not match when it is loaded is flagged; writing a flagged row is refused (a business write
    must never "launder" tampered data by re-sealing it).
Key material comes from the app's key provider (`Platform.keys`).
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

from flask import current_app
from sqlalchemy import Boolean, Date, DateTime, Integer, String, TypeDecorator
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


def current_keys() -> KeyProvider:
    """The key provider of the current app (field protection always runs inside an app context)."""
    return current_app.extensions["permitflow"].keys


def cipher_length(max_chars: int) -> int:
    """Stored length of an encrypted value of at most max_chars characters (UTF-8 ≤ 4 bytes each)."""
    raw = 12 + 4 * max_chars + 16  # nonce + ciphertext + tag
    return 24 + 4 * ((raw + 2) // 3)  # "field-enc:NNN$" + base64


def encrypt_value(value: str, label: str, key: SymmetricKey | None = None) -> str:
    """ "key_id$base64(SM4-GCM(value))" under the current (or given) field-encryption key."""
    key = key or current_keys().symmetric_key(ENC_PURPOSE)
    blob = sm4_gcm_encrypt(key.material, value.encode("utf-8"), label.encode("utf-8"))
    return f"{key.key_id}${base64.b64encode(blob).decode('ascii')}"


def decrypt_value(stored: str, label: str, keys: KeyProvider | None = None) -> str:
    """The clear value of a stored ciphertext; UNREADABLE (and an alert) when it fails its check."""
    key_id, sep, blob = stored.partition("$")
    if not sep or not key_id.startswith(ENC_PURPOSE + ":"):
        if legacy_plaintext.get():
            return stored
        alert_log.error("field %s holds a value that is not a ciphertext", label)
        return UNREADABLE
    try:
        key = (keys or current_keys()).symmetric_key(ENC_PURPOSE, key_id)
        return sm4_gcm_decrypt(key.material, base64.b64decode(blob, validate=True), label.encode()).decode("utf-8")
    except (SM4DecryptError, KeyProviderError, binascii.Error, ValueError, UnicodeDecodeError) as exc:
        alert_log.error("field %s does not decrypt (%s): tampered, or its key %s is gone", label, exc, key_id)
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

    def __new__(cls, clear: str, stored: str | None, label: str) -> Sealed:
        value = super().__new__(cls, clear)
        value.stored, value.label = stored, label
        return value

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
            return value.stored  # encrypted when the row was sealed: the MAC covers exactly this ciphertext
        return self.seal(value).stored

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else Sealed(decrypt_value(value, self.label), value, self.label)

    def seal(self, value: Any, key: SymmetricKey | None = None) -> Sealed:
        """The value with a fresh ciphertext under the current (or given) field-encryption key."""
        text = str(value)
        if len(text) > self.max_chars:
            raise ValueError(f"{self.label} is longer than {self.max_chars} characters")
        return Sealed(text, encrypt_value(text, self.label, key), self.label)

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

    def message(self, values: Iterable[Any]) -> bytes:
        """Canonical bytes of the MAC columns' values (length-prefixed, so no two encodings collide)."""
        parts = [self.table]
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


def compute_mac(spec: ProtectionSpec, values: Iterable[Any], key: SymmetricKey | None = None) -> str:
    """ "key_id$hex" HMAC-SM3 of the canonical encoding under the current (or given) field-MAC key."""
    key = key or current_keys().symmetric_key(MAC_PURPOSE)
    return f"{key.key_id}${hmac.new(key.material, spec.message(values), 'sm3').hexdigest()}"


def mac_matches(
    spec: ProtectionSpec, values: Iterable[Any], stored: str | None, keys: KeyProvider | None = None
) -> bool:
    """True when the stored MAC is valid for the values under the key id it names."""
    key_id = key_id_of(stored)
    if key_id is None or not key_id.startswith(MAC_PURPOSE + ":"):
        return False
    try:
        key = (keys or current_keys()).symmetric_key(MAC_PURPOSE, key_id)
    except KeyProviderError:
        return False
    return hmac.compare_digest(compute_mac(spec, values, key), stored)


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

    For Core inserts and re-protection; `keys` may fix the purposes' keys (default: the current ones).
    """
    provider = current_keys()
    keys = keys or {}
    enc = keys.get(ENC_PURPOSE) or provider.symmetric_key(ENC_PURPOSE)
    index_key = keys.get(INDEX_PURPOSE) or provider.symmetric_key(INDEX_PURPOSE)
    for name, kind in spec.encrypted.items():
        value = row.get(name)
        row[name] = None if value is None else kind.seal(value, enc)
    for column, index in spec.indexes.items():
        value = row.get(column)
        row[index] = None if value is None else blind_index(str(value), index_key)
    if spec.mac:
        row["integrity_mac"] = compute_mac(spec, mac_values(spec, row), keys.get(MAC_PURPOSE))
    return row


# The mapper and session listeners that apply all of this on every write and load.
from models import protection_events  # noqa: E402, F401
