"""ctypes binding to the system's OpenSSL 3 libcrypto, limited to what SM2 needs.

`cryptography` bundles its own OpenSSL but exposes no SM2, and its copy's symbols are hidden, so
SM2 goes through the shared libcrypto that the distribution ships (Debian 12: libssl3).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable
from typing import Any

_P = ctypes.c_void_p
_INT = ctypes.c_int
_SIZE = ctypes.c_size_t

# (name, restype, argtypes); every handle is an opaque pointer.
_PROTOTYPES: tuple[tuple[str, Any, list[Any]], ...] = (
    ("OpenSSL_version_num", ctypes.c_ulong, []),
    ("OPENSSL_init_crypto", _INT, [ctypes.c_uint64, _P]),
    ("ERR_get_error", ctypes.c_ulong, []),
    ("ERR_error_string_n", None, [ctypes.c_ulong, ctypes.c_char_p, _SIZE]),
    ("ERR_clear_error", None, []),
    ("BIO_s_mem", _P, []),
    ("BIO_new", _P, [_P]),
    ("BIO_new_mem_buf", _P, [ctypes.c_char_p, _INT]),
    ("BIO_free", _INT, [_P]),
    ("BIO_read", _INT, [_P, _P, _INT]),
    ("BIO_ctrl_pending", _SIZE, [_P]),
    ("EVP_PKEY_free", None, [_P]),
    ("EVP_PKEY_is_a", _INT, [_P, ctypes.c_char_p]),
    ("EVP_PKEY_CTX_new_from_name", _P, [_P, ctypes.c_char_p, ctypes.c_char_p]),
    ("EVP_PKEY_CTX_new_from_pkey", _P, [_P, _P, ctypes.c_char_p]),
    ("EVP_PKEY_CTX_free", None, [_P]),
    ("EVP_PKEY_CTX_set1_id", _INT, [_P, ctypes.c_char_p, _INT]),
    ("EVP_PKEY_check", _INT, [_P]),
    ("EVP_PKEY_keygen_init", _INT, [_P]),
    ("EVP_PKEY_generate", _INT, [_P, ctypes.POINTER(_P)]),
    ("EVP_PKEY_encrypt_init", _INT, [_P]),
    ("EVP_PKEY_encrypt", _INT, [_P, _P, ctypes.POINTER(_SIZE), ctypes.c_char_p, _SIZE]),
    ("EVP_PKEY_decrypt_init", _INT, [_P]),
    ("EVP_PKEY_decrypt", _INT, [_P, _P, ctypes.POINTER(_SIZE), ctypes.c_char_p, _SIZE]),
    ("EVP_PKEY_get_bn_param", _INT, [_P, ctypes.c_char_p, ctypes.POINTER(_P)]),
    ("BN_num_bits", _INT, [_P]),
    ("BN_bn2binpad", _INT, [_P, _P, _INT]),
    ("BN_clear_free", None, [_P]),
    ("EVP_MD_CTX_new", _P, []),
    ("EVP_MD_CTX_free", None, [_P]),
    ("EVP_MD_CTX_set_pkey_ctx", None, [_P, _P]),
    ("EVP_DigestSignInit_ex", _INT, [_P, _P, ctypes.c_char_p, _P, ctypes.c_char_p, _P, _P]),
    ("EVP_DigestSign", _INT, [_P, _P, ctypes.POINTER(_SIZE), ctypes.c_char_p, _SIZE]),
    ("EVP_DigestVerifyInit_ex", _INT, [_P, _P, ctypes.c_char_p, _P, ctypes.c_char_p, _P, _P]),
    ("EVP_DigestVerify", _INT, [_P, ctypes.c_char_p, _SIZE, ctypes.c_char_p, _SIZE]),
    ("PEM_read_bio_PrivateKey", _P, [_P, _P, _P, _P]),  # 3rd arg: a PASSWORD_CALLBACK
    ("PEM_read_bio_PUBKEY", _P, [_P, _P, _P, _P]),
    ("PEM_write_bio_PKCS8PrivateKey", _INT, [_P, _P, _P, ctypes.c_char_p, _INT, _P, _P]),
    ("PEM_write_bio_PUBKEY", _INT, [_P, _P]),
    ("i2d_PUBKEY", _INT, [_P, ctypes.POINTER(_P)]),
    ("d2i_PUBKEY", _P, [_P, ctypes.POINTER(_P), ctypes.c_long]),
    ("d2i_AutoPrivateKey", _P, [_P, ctypes.POINTER(_P), ctypes.c_long]),
)

_INIT_LOAD_CRYPTO_STRINGS = 0x02  # else errors read "reason(102)" instead of "digest check failed"
_MIN_VERSION = 0x30000000  # the _ex calls, EVP_PKEY_is_a and SM2 as its own key type are 3.0+


# int pem_password_cb(char *buf, int size, int rwflag, void *u)
PASSWORD_CALLBACK = ctypes.CFUNCTYPE(_INT, _P, _INT, _INT, _P)


@PASSWORD_CALLBACK
def refuse_password(_buf: int, _size: int, _rwflag: int, _user: int) -> int:
    """Passphrase callback that gives none: without it OpenSSL would prompt on the terminal."""
    return -1


class LibCryptoUnavailable(RuntimeError):
    """No usable OpenSSL 3 libcrypto with SM2 was found on this system."""


class LibCrypto:
    """The loaded library: one attribute per bound function, plus small helpers."""

    def __init__(self, cdll: ctypes.CDLL) -> None:
        self._cdll = cdll
        for name, restype, argtypes in _PROTOTYPES:
            fn = getattr(cdll, name)  # AttributeError when a symbol is missing: caught by the loader
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # Only reached for names not bound in __init__; keeps type checkers quiet about dynamic attrs.
        raise AttributeError(name)

    def errors(self) -> str:
        """Drain OpenSSL's (thread-local) error queue into one message, so it never leaks to a later call."""
        messages = []
        buf = ctypes.create_string_buffer(256)
        while code := self.ERR_get_error():
            self.ERR_error_string_n(code, buf, len(buf))
            messages.append(buf.value.decode("ascii", "replace"))
        return "; ".join(messages) or "no detail from OpenSSL"

    def bio_from(self, data: bytes) -> int:
        """A read-only memory BIO over the data; the caller must keep `data` alive and BIO_free it."""
        bio = self.BIO_new_mem_buf(data, len(data))
        if not bio:
            raise MemoryError("BIO_new_mem_buf failed")
        return bio

    def bio_drain(self, bio: int) -> bytes:
        """Everything written to a memory BIO so far."""
        size = self.BIO_ctrl_pending(bio)
        buf = ctypes.create_string_buffer(size)
        got = self.BIO_read(bio, buf, size) if size else 0
        return buf.raw[: max(got, 0)]


def _candidate_paths() -> list[str]:
    forced = os.environ.get("PERMITFLOW_LIBCRYPTO")
    if forced:
        return [forced]
    found = ctypes.util.find_library("crypto")
    # The versioned soname first: a bare libcrypto.so may be a 1.1 dev symlink on older systems.
    return [p for p in ("libcrypto.so.3", found) if p]


@functools.cache
def load() -> LibCrypto:
    """The process-wide libcrypto binding; raises LibCryptoUnavailable when there is none with SM2."""
    problems = []
    for path in _candidate_paths():
        try:
            lib = LibCrypto(ctypes.CDLL(path))
        except (OSError, AttributeError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        version = lib.OpenSSL_version_num()
        if version < _MIN_VERSION:
            problems.append(f"{path}: OpenSSL {version:#x} is older than 3.0")
            continue
        probe = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        if not probe:
            lib.errors()
            problems.append(f"{path}: SM2 is not available (disabled at build time or by the provider)")
            continue
        lib.EVP_PKEY_CTX_free(probe)
        lib.OPENSSL_init_crypto(_INIT_LOAD_CRYPTO_STRINGS, None)
        return lib
    raise LibCryptoUnavailable("; ".join(problems) or "libcrypto not found")
