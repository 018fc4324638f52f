"""The key-provider interface: purposes, key ids, and what every provider (local or KMS) offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# Purpose → (kind, material size). Symmetric material is random bytes; "sm2" is a key pair.
PURPOSES: dict[str, tuple[str, int]] = {
    "field-enc": ("sm4", 16),  # SM4-GCM encryption of personal fields at rest
    "field-mac": ("hmac", 32),  # S1 key-field HMAC-SM3
    "blind-index": ("hmac", 32),  # HMAC-SM3 exact-match search index
    "audit-mac": ("hmac", 32),  # S4 audit hash chain
    "mca": ("sm2", 0),  # SM2 key pair of our MCA 3.0 endpoint
}


class KeyProviderError(Exception):
    """A key could not be produced or used; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UnknownKeyId(KeyProviderError):
    """A key id that this provider does not know (never created, or malformed)."""

    def __init__(self, key_id: str) -> None:
        super().__init__("UNKNOWN_KEY_ID", f"unknown key id {key_id!r}")
        self.key_id = key_id


@dataclass(frozen=True)
class SymmetricKey:
    """One version of a symmetric key; `key_id` travels with everything it protects."""

    key_id: str  # e.g. "field-enc:3"
    material: bytes  # 16 bytes for SM4 purposes, 32 bytes for HMAC-SM3 purposes

    def __repr__(self) -> str:  # never show the material in logs or tracebacks
        return f"SymmetricKey({self.key_id!r})"


@dataclass(frozen=True)
class KeyInfo:
    """What `keys list` shows about one key version (never its material)."""

    key_id: str
    purpose: str
    kind: str
    current: bool
    created_at: str


@runtime_checkable
class KeyProvider(Protocol):
    """The agreed interface (see notes/interfaces.md); every provider implements it."""

    def symmetric_key(self, purpose: str, key_id: str | None = None) -> SymmetricKey:
        """The key of a purpose: the current one (key_id None) or the named version."""
        ...

    def sign(self, purpose: str, data: bytes) -> tuple[str, bytes]:
        """(key_id, DER SM2-with-SM3 signature) with the purpose's current key pair."""
        ...

    def verify(self, key_id: str, data: bytes, signature: bytes) -> bool:
        """True when the signature was made by the key pair `key_id` over `data`."""
        ...

    def public_key_pem(self, purpose: str, key_id: str | None = None) -> tuple[str, bytes]:
        """(key_id, SubjectPublicKeyInfo PEM) of the purpose's current or named key pair."""
        ...

    def sm2_decrypt(self, key_id: str, ciphertext: bytes) -> bytes:
        """Decrypt an ASN.1 C1C3C2 SM2 ciphertext with the private key `key_id`."""
        ...


class KeyManager(KeyProvider, Protocol):
    """A provider that can also rotate and list its keys (both providers here do)."""

    def rotate(self, purpose: str) -> str:
        """Create a new current key for a purpose; older versions stay readable. Returns the new key id."""
        ...

    def list_keys(self) -> list[KeyInfo]:
        """Every key version, oldest first per purpose."""
        ...

    def key_ids(self, purpose: str) -> list[str]:
        """The known key ids of a purpose, current first."""
        ...


def make_key_id(purpose: str, version: int) -> str:
    """The key id of a purpose's version: "field-enc:3"."""
    return f"{purpose}:{version}"


def parse_key_id(key_id: str) -> tuple[str, int]:
    """(purpose, version) of a key id; UnknownKeyId when malformed or of an unknown purpose."""
    purpose, sep, version = str(key_id).rpartition(":")
    if not sep or purpose not in PURPOSES or not version.isdigit() or int(version) < 1:
        raise UnknownKeyId(key_id)
    return purpose, int(version)


def check_purpose(purpose: str, kind: str | None = None) -> str:
    """The purpose's kind; KeyProviderError when unknown or not of the expected kind."""
    if purpose not in PURPOSES:
        raise KeyProviderError("UNKNOWN_PURPOSE", f"unknown key purpose {purpose!r}")
    actual = PURPOSES[purpose][0]
    if (kind == "symmetric" and actual == "sm2") or (kind == "sm2" and actual != "sm2"):
        raise KeyProviderError("WRONG_KEY_KIND", f"key purpose {purpose!r} is {actual}, not {kind}")
    return actual
