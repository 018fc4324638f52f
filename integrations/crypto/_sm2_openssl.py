"""SM2 backend on the system's OpenSSL 3 libcrypto: 3-7x faster than pure Python, side-channel hardened.

OpenSSL already does what GB/T 32918 and the interop partners expect: DER SEQUENCE{r,s} signatures,
C1C3C2 ciphertexts as SEQUENCE{x,y,C3,C2}, a C3 check on decryption, and nonces from its DRBG.
The one thing it does not do by default is ZA with the standard user ID (3.0 uses an empty ID), so
every sign/verify sets the ID explicitly, the way SM2(7) documents.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from integrations.crypto import _asn1
from integrations.crypto._libcrypto import LibCrypto, load, refuse_password
from integrations.crypto.errors import SM2DecryptError, SM2Error

NAME = "openssl"
_SIG_MAX = 72  # DER of two 256-bit integers, each possibly with a 0x00 sign byte


def _lib() -> LibCrypto:
    return load()


class _PKey:
    """Owns one EVP_PKEY* and frees it with the Python object."""

    __slots__ = ("_free", "ptr")

    def __init__(self, lib: LibCrypto, ptr: int | None, what: str) -> None:
        if not ptr:
            raise SM2Error(f"{what}: {lib.errors()}")
        self._free = lib.EVP_PKEY_free  # kept on the instance: module globals may be gone at exit
        self.ptr = ptr
        if lib.EVP_PKEY_is_a(ptr, b"SM2") != 1:
            raise SM2Error(f"{what}: the key is not an SM2 key (wrong algorithm or curve)")

    def __del__(self) -> None:
        if getattr(self, "ptr", None):
            self._free(self.ptr)
            self.ptr = None


def _digest_op(pkey: _PKey, user_id: bytes, init: Callable[..., int], run: Callable[[int], int]) -> int:
    """Run `run(md_ctx)` on an SM3 digest-sign/verify context whose ZA uses `user_id`."""
    lib = _lib()
    mctx = lib.EVP_MD_CTX_new()
    pctx = lib.EVP_PKEY_CTX_new_from_pkey(None, pkey.ptr, None)
    try:
        if not mctx or not pctx:
            raise SM2Error(f"cannot create an SM2 context: {lib.errors()}")
        if lib.EVP_PKEY_CTX_set1_id(pctx, user_id, len(user_id)) != 1:
            raise SM2Error(f"cannot set the SM2 user ID: {lib.errors()}")
        # The MD context borrows pctx (EVP_MD_CTX_FLAG_KEEP_PKEY_CTX), so both are freed below.
        lib.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        if init(mctx, None, b"SM3", None, None, pkey.ptr, None) != 1:
            raise SM2Error(f"cannot start SM2 with SM3: {lib.errors()}")
        return run(mctx)
    finally:
        lib.EVP_MD_CTX_free(mctx)
        lib.EVP_PKEY_CTX_free(pctx)


def _pkey_crypt(pkey: _PKey, data: bytes, decrypt: bool) -> bytes:
    lib = _lib()
    init, crypt = (
        (lib.EVP_PKEY_decrypt_init, lib.EVP_PKEY_decrypt)
        if decrypt
        else (lib.EVP_PKEY_encrypt_init, lib.EVP_PKEY_encrypt)
    )
    error = SM2DecryptError if decrypt else SM2Error
    ctx = lib.EVP_PKEY_CTX_new_from_pkey(None, pkey.ptr, None)
    try:
        if not ctx or init(ctx) != 1:
            raise SM2Error(f"cannot start SM2 {'de' if decrypt else 'en'}cryption: {lib.errors()}")
        size = ctypes.c_size_t(0)
        if crypt(ctx, None, ctypes.byref(size), data, len(data)) != 1:
            raise error(f"SM2 {'de' if decrypt else 'en'}cryption failed: {lib.errors()}")
        out = ctypes.create_string_buffer(max(size.value, 1))
        if crypt(ctx, out, ctypes.byref(size), data, len(data)) != 1:
            if decrypt:
                # OpenSSL 3.0 reports a C3 mismatch only as "SM2 routines::reason(102)": say what it means.
                raise SM2DecryptError(
                    "SM2 ciphertext is malformed, was tampered with (C3 check failed) or is for another key"
                    f" ({lib.errors()})"
                )
            raise SM2Error(f"SM2 encryption failed: {lib.errors()}")
        return out.raw[: size.value]
    finally:
        lib.EVP_PKEY_CTX_free(ctx)


def _read_pem(reader: Callable[..., int], pem: bytes, what: str) -> _PKey:
    lib = _lib()
    bio = lib.bio_from(pem)
    try:
        # An encrypted key must fail here, not block a worker on a terminal prompt.
        ptr = reader(bio, None, refuse_password, None)
    finally:
        lib.BIO_free(bio)
    return _PKey(lib, ptr, what)


def _write_pem(write: Callable[[int], int], what: str) -> bytes:
    lib = _lib()
    bio = lib.BIO_new(lib.BIO_s_mem())
    if not bio:
        raise MemoryError("BIO_new failed")
    try:
        if write(bio) != 1:
            raise SM2Error(f"cannot write {what}: {lib.errors()}")
        return lib.bio_drain(bio)
    finally:
        lib.BIO_free(bio)


class PublicKey:
    """An SM2 public key held by libcrypto."""

    __slots__ = ("_pkey",)

    def __init__(self, pkey: _PKey) -> None:
        self._pkey = pkey

    def verify(self, data: bytes, signature: bytes, user_id: bytes) -> bool:
        """True when the DER signature is valid for the data under ZA(user_id)."""
        lib = _lib()

        def run(mctx: int) -> int:
            return lib.EVP_DigestVerify(mctx, signature, len(signature), data, len(data))

        result = _digest_op(self._pkey, user_id, lib.EVP_DigestVerifyInit_ex, run)
        if result != 1:
            lib.errors()  # a bad signature leaves entries in the queue: drop them
        return result == 1

    def encrypt(self, data: bytes) -> bytes:
        """C1C3C2 ciphertext, DER SEQUENCE{x,y,C3,C2}."""
        return _pkey_crypt(self._pkey, data, decrypt=False)

    def to_der(self) -> bytes:
        """SubjectPublicKeyInfo DER."""
        lib = _lib()
        size = lib.i2d_PUBKEY(self._pkey.ptr, None)
        if size <= 0:
            raise SM2Error(f"cannot encode the public key: {lib.errors()}")
        buf = ctypes.create_string_buffer(size)
        cursor = ctypes.c_void_p(ctypes.addressof(buf))  # i2d advances the pointer it is given
        if lib.i2d_PUBKEY(self._pkey.ptr, ctypes.byref(cursor)) != size:
            raise SM2Error(f"cannot encode the public key: {lib.errors()}")
        return buf.raw

    def to_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM."""
        lib = _lib()
        return _write_pem(lambda bio: lib.PEM_write_bio_PUBKEY(bio, self._pkey.ptr), "public key PEM")

    def point(self) -> bytes:
        """Uncompressed point 04‖X‖Y."""
        return _asn1.parse_spki(self.to_der())


class PrivateKey:
    """An SM2 private key held by libcrypto."""

    __slots__ = ("_pkey",)

    def __init__(self, pkey: _PKey) -> None:
        self._pkey = pkey

    def sign(self, data: bytes, user_id: bytes) -> bytes:
        """DER SEQUENCE{r,s} over SM3(ZA(user_id) ‖ data)."""
        lib = _lib()
        sig = ctypes.create_string_buffer(_SIG_MAX)
        size = ctypes.c_size_t(_SIG_MAX)

        def run(mctx: int) -> int:
            return lib.EVP_DigestSign(mctx, sig, ctypes.byref(size), data, len(data))

        if _digest_op(self._pkey, user_id, lib.EVP_DigestSignInit_ex, run) != 1:
            raise SM2Error(f"SM2 signing failed: {lib.errors()}")
        return sig.raw[: size.value]

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Plaintext of a DER C1C3C2 ciphertext; SM2DecryptError when C3 or the format is wrong."""
        return _pkey_crypt(self._pkey, ciphertext, decrypt=True)

    def public(self) -> PublicKey:
        """The matching public key, as a separate libcrypto object without the secret."""
        der = PublicKey(self._pkey).to_der()
        return public_from_der(der)

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM."""
        lib = _lib()
        return _write_pem(
            lambda bio: lib.PEM_write_bio_PKCS8PrivateKey(bio, self._pkey.ptr, None, None, 0, None, None),
            "private key PEM",
        )

    def scalar(self) -> int:
        """The private scalar d."""
        lib = _lib()
        bn = ctypes.c_void_p()
        if lib.EVP_PKEY_get_bn_param(self._pkey.ptr, b"priv", ctypes.byref(bn)) != 1:
            raise SM2Error(f"cannot read the private scalar: {lib.errors()}")
        try:
            buf = ctypes.create_string_buffer(32)
            if lib.BN_bn2binpad(bn, buf, 32) != 32:
                raise SM2Error("private scalar is longer than 256 bits")
            return int.from_bytes(buf.raw, "big")
        finally:
            lib.BN_clear_free(bn)


def generate() -> PrivateKey:
    """A new key pair from OpenSSL's CSPRNG."""
    lib = _lib()
    ctx = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    try:
        out = ctypes.c_void_p()
        if not ctx or lib.EVP_PKEY_keygen_init(ctx) != 1 or lib.EVP_PKEY_generate(ctx, ctypes.byref(out)) != 1:
            raise SM2Error(f"SM2 key generation failed: {lib.errors()}")
        return PrivateKey(_PKey(lib, out.value, "SM2 key generation"))
    finally:
        lib.EVP_PKEY_CTX_free(ctx)


def private_from_pem(pem: bytes) -> PrivateKey:
    """Load a PKCS#8 (or traditional EC) PEM private key, checking its public half matches."""
    lib = _lib()
    pkey = _read_pem(lib.PEM_read_bio_PrivateKey, pem, "cannot load the SM2 private key")
    # OpenSSL trusts the public point stored in the file; a wrong one would silently spoil every ZA.
    ctx = lib.EVP_PKEY_CTX_new_from_pkey(None, pkey.ptr, None)
    try:
        if not ctx or lib.EVP_PKEY_check(ctx) != 1:
            raise SM2Error(f"the SM2 private key is inconsistent or invalid: {lib.errors()}")
    finally:
        lib.EVP_PKEY_CTX_free(ctx)
    return PrivateKey(pkey)


def public_from_pem(pem: bytes) -> PublicKey:
    """Load a SubjectPublicKeyInfo PEM public key."""
    return PublicKey(_read_pem(_lib().PEM_read_bio_PUBKEY, pem, "cannot load the SM2 public key"))


def _d2i(fn: Callable[..., int], der: bytes, what: str) -> _PKey:
    lib = _lib()
    buf = ctypes.create_string_buffer(der, len(der))
    cursor = ctypes.c_void_p(ctypes.addressof(buf))
    ptr = fn(None, ctypes.byref(cursor), len(der))
    if ptr and cursor.value != ctypes.addressof(buf) + len(der):
        lib.EVP_PKEY_free(ptr)
        raise SM2Error(f"{what}: trailing bytes after the key")
    return _PKey(lib, ptr, what)


def public_from_der(der: bytes) -> PublicKey:
    """Load a SubjectPublicKeyInfo DER public key (OpenSSL checks the point is on the curve)."""
    return PublicKey(_d2i(_lib().d2i_PUBKEY, der, "cannot load the SM2 public key"))


def private_from_scalar(d: int) -> PrivateKey:
    """A key from its scalar; OpenSSL derives the public point from it."""
    der = _asn1.pkcs8(d, None)
    return PrivateKey(_d2i(_lib().d2i_AutoPrivateKey, der, "cannot load the SM2 private scalar"))
