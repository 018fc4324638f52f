"""SM2 (GB/T 32918) keys, signatures and public-key encryption, in the forms partners expect.

Signatures are DER SEQUENCE{r,s} over SM3 with ZA for user ID 1234567812345678; ciphertexts are
C1C3C2 as DER SEQUENCE{x,y,C3,C2}; keys are PKCS#8 / SubjectPublicKeyInfo PEM. That is what
OpenSSL 3 (given `distid:1234567812345678`) and BouncyCastle produce and read.

The work is done by the system's OpenSSL 3 libcrypto when it loads (~2,000 signs or verifies/s on the
2-core machine), else by a pure-Python fallback with identical formats (3-7x slower and not
constant-time, so a warning is logged). `PERMITFLOW_SM2_BACKEND=pure|openssl` forces one.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Any

from integrations.crypto import _libcrypto, _sm2_openssl, _sm2_pure
from integrations.crypto._asn1 import decode_ciphertext, spki
from integrations.crypto.errors import SM2DecryptError, SM2Error

DEFAULT_USER_ID = b"1234567812345678"
_MAX_USER_ID = 8191  # ENTL is the ID's length in bits in two bytes
_N = _sm2_pure.N

log = logging.getLogger(__name__)
_BACKEND: ModuleType | None = None

Data = bytes | bytearray | memoryview | str


def _select_backend() -> ModuleType:
    forced = os.environ.get("PERMITFLOW_SM2_BACKEND", "").strip().lower()
    if forced == "pure":
        return _sm2_pure
    try:
        _libcrypto.load()
        return _sm2_openssl
    except _libcrypto.LibCryptoUnavailable as exc:
        if forced == "openssl":
            raise SM2Error(f"PERMITFLOW_SM2_BACKEND=openssl but libcrypto is unusable: {exc}") from None
        log.warning("SM2 uses the slow pure-Python fallback: %s", exc)
        return _sm2_pure


def _backend() -> ModuleType:
    global _BACKEND
    if _BACKEND is None:
        _BACKEND = _select_backend()
    return _BACKEND


def sm2_backend() -> str:
    """Which implementation SM2 uses in this process: "openssl" or "pure"."""
    return str(_backend().NAME)


def _bytes(data: Data, what: str = "data") -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"{what} must be bytes or str, not {type(data).__name__}")


def _user_id(user_id: Data) -> bytes:
    uid = _bytes(user_id, "user_id")
    if len(uid) > _MAX_USER_ID:
        raise SM2Error(f"the SM2 user ID is limited to {_MAX_USER_ID} bytes")
    return uid


class SM2PublicKey:
    """An SM2 public key: verifies signatures and encrypts."""

    __slots__ = ("_impl",)

    def __init__(self, impl: Any) -> None:
        """Wrap a backend key; use the from_* constructors instead."""
        self._impl = impl

    @classmethod
    def from_pem(cls, pem: bytes | str) -> SM2PublicKey:
        """Load a SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----")."""
        return cls(_backend().public_from_pem(_bytes(pem, "pem")))

    @classmethod
    def from_public_bytes(cls, point: bytes) -> SM2PublicKey:
        """Load an uncompressed point: 65 bytes 04‖X‖Y, or the 64 bytes X‖Y that gmssl-style hex keys use."""
        point = _bytes(point, "point")
        if len(point) == 64:
            point = b"\x04" + point
        if len(point) != 65 or point[0] != 4:
            raise SM2Error("an SM2 public key is 65 bytes 04‖X‖Y or 64 bytes X‖Y")
        _sm2_pure.decode_point(point)  # the same on-curve check whichever backend loads it
        return cls(_backend().public_from_der(spki(point)))

    def to_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM, readable by `openssl pkey -pubin`."""
        return bytes(self._impl.to_pem())

    def public_bytes(self) -> bytes:
        """Uncompressed point 04‖X‖Y (65 bytes)."""
        return bytes(self._impl.point())

    def verify(self, data: Data, signature: bytes, *, user_id: Data = DEFAULT_USER_ID) -> bool:
        """True when the DER SEQUENCE{r,s} signature is valid for `data`; False if bad or malformed."""
        return bool(self._impl.verify(_bytes(data), _bytes(signature, "signature"), _user_id(user_id)))

    def encrypt(self, data: Data) -> bytes:
        """Encrypt to DER SEQUENCE{x,y,C3,C2} (C1C3C2); the message must not be empty."""
        plain = _bytes(data)
        if not plain:
            raise SM2Error("SM2 cannot encrypt an empty message (GB/T 32918.4 needs klen > 0)")
        return bytes(self._impl.encrypt(plain))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and self.public_bytes() == other.public_bytes()

    def __hash__(self) -> int:
        return hash(self.public_bytes())

    def __repr__(self) -> str:
        return f"SM2PublicKey({self.public_bytes()[1:9].hex()}…)"


class SM2PrivateKey:
    """An SM2 private key: signs and decrypts. Its repr never shows the secret."""

    __slots__ = ("_impl", "_public")

    def __init__(self, impl: Any) -> None:
        """Wrap a backend key; use generate() or the from_* constructors instead."""
        self._impl = impl
        self._public: SM2PublicKey | None = None

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        """A new key pair from a cryptographically secure generator."""
        return cls(_backend().generate())

    @classmethod
    def from_pem(cls, pem: bytes | str) -> SM2PrivateKey:
        """Load an unencrypted PKCS#8 ("PRIVATE KEY") or SEC1 ("SM2/EC PRIVATE KEY") PEM of an SM2 key."""
        pem = _bytes(pem, "pem")
        if b"ENCRYPTED" in pem:
            raise SM2Error("encrypted private-key PEM is not supported: decrypt it with `openssl pkey` first")
        key = cls(_backend().private_from_pem(pem))
        key._check_range()
        return key

    @classmethod
    def from_private_bytes(cls, secret: bytes) -> SM2PrivateKey:
        """Load the 32-byte big-endian private scalar d (as in gmssl-style hex keys)."""
        secret = _bytes(secret, "secret")
        if len(secret) != 32:
            raise SM2Error("an SM2 private key is 32 bytes")
        d = int.from_bytes(secret, "big")
        if not 1 <= d <= _N - 2:
            raise SM2Error("the SM2 private scalar is out of range [1, n-2]")
        return cls(_backend().private_from_scalar(d))

    def _check_range(self) -> None:
        # OpenSSL loads any scalar; d = 0 or d ≥ n − 1 would make signatures invalid or forgeable.
        if not 1 <= self._impl.scalar() <= _N - 2:
            raise SM2Error("the SM2 private scalar is out of range [1, n-2]")

    def private_bytes(self) -> bytes:
        """The 32-byte big-endian private scalar d."""
        return int(self._impl.scalar()).to_bytes(32, "big")

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM, readable by `openssl pkey`; protect the file, it is the secret."""
        return bytes(self._impl.to_pem())

    def public_key(self) -> SM2PublicKey:
        """The matching public key."""
        if self._public is None:
            self._public = SM2PublicKey(self._impl.public())
        return self._public

    def sign(self, data: Data, *, user_id: Data = DEFAULT_USER_ID) -> bytes:
        """DER SEQUENCE{r,s} signature over SM3(ZA ‖ data), ZA computed for `user_id`."""
        return bytes(self._impl.sign(_bytes(data), _user_id(user_id)))

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt DER SEQUENCE{x,y,C3,C2}; SM2DecryptError if malformed, tampered or for another key."""
        ciphertext = _bytes(ciphertext, "ciphertext")
        try:
            # Strict DER first, so both backends refuse the same inputs (OpenSSL ignores trailing bytes).
            decode_ciphertext(ciphertext)
        except SM2Error as exc:
            raise SM2DecryptError(f"malformed SM2 ciphertext: {exc}") from None
        return bytes(self._impl.decrypt(ciphertext))

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public={self.public_key()!r})"
