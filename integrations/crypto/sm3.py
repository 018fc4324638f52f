"""SM3 hashing and HMAC-SM3 through OpenSSL (the `cryptography` package)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _hmac


def sm3_hex(data: bytes | str) -> str:
    """SM3 digest of the data as 64 hex characters (str is UTF-8 encoded)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def hmac_sm3(key: bytes, data: bytes | str) -> str:
    """HMAC-SM3 of the data under the key, as hex."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    mac = _hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize().hex()
