"""SM4 (GB/T 32907) in CBC and GCM modes through OpenSSL (the `cryptography` package).

Every message gets a fresh random IV/nonce that travels in front of the ciphertext, so the same
plaintext never encrypts to the same bytes twice. Prefer GCM: CBC has no integrity of its own and
must be paired with a MAC (e.g. HMAC-SM3 over the whole CBC output) where tampering matters.

Wire layouts:
  CBC: IV (16) ‖ ciphertext (PKCS#7-padded, multiple of 16)
  GCM: nonce (12) ‖ ciphertext (same length as the plaintext) ‖ tag (16)
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from integrations.crypto.errors import SM4DecryptError, SM4Error

KEY_SIZE = 16
BLOCK_SIZE = 16
GCM_NONCE_SIZE = 12
GCM_TAG_SIZE = 16

Data = bytes | bytearray | memoryview | str


def _bytes(data: Data) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"expected bytes or str, not {type(data).__name__}")


def _algorithm(key: bytes) -> algorithms.SM4:
    if not isinstance(key, bytes | bytearray | memoryview):
        raise TypeError(f"the SM4 key must be bytes, not {type(key).__name__}")
    if len(key) != KEY_SIZE:
        raise SM4Error(f"an SM4 key is {KEY_SIZE} bytes, got {len(key)}")
    return algorithms.SM4(bytes(key))


def generate_sm4_key() -> bytes:
    """A new random 16-byte SM4 key."""
    return secrets.token_bytes(KEY_SIZE)


def sm4_cbc_encrypt(key: bytes, plaintext: Data) -> bytes:
    """SM4-CBC with PKCS#7 padding under a fresh random IV; returns IV ‖ ciphertext."""
    algorithm = _algorithm(key)
    iv = secrets.token_bytes(BLOCK_SIZE)
    padder = padding.PKCS7(BLOCK_SIZE * 8).padder()
    padded = padder.update(_bytes(plaintext)) + padder.finalize()
    encryptor = Cipher(algorithm, modes.CBC(iv)).encryptor()
    return iv + encryptor.update(padded) + encryptor.finalize()


def sm4_cbc_decrypt(key: bytes, data: bytes) -> bytes:
    """Inverse of sm4_cbc_encrypt; SM4DecryptError on a bad length or bad padding."""
    algorithm = _algorithm(key)
    data = _bytes(data)
    if len(data) < 2 * BLOCK_SIZE or len(data) % BLOCK_SIZE:
        raise SM4DecryptError("SM4-CBC data must be a 16-byte IV plus a non-empty multiple of 16 bytes")
    decryptor = Cipher(algorithm, modes.CBC(data[:BLOCK_SIZE])).decryptor()
    padded = decryptor.update(data[BLOCK_SIZE:]) + decryptor.finalize()
    unpadder = padding.PKCS7(BLOCK_SIZE * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        # One message for every cause, so the error itself is not a padding oracle's signal.
        raise SM4DecryptError("SM4-CBC decryption failed (wrong key or corrupted data)") from None


def sm4_gcm_encrypt(key: bytes, plaintext: Data, associated_data: bytes | None = None) -> bytes:
    """SM4-GCM under a fresh random 12-byte nonce; returns nonce ‖ ciphertext ‖ 16-byte tag."""
    algorithm = _algorithm(key)
    nonce = secrets.token_bytes(GCM_NONCE_SIZE)
    encryptor = Cipher(algorithm, modes.GCM(nonce)).encryptor()
    if associated_data:
        encryptor.authenticate_additional_data(bytes(associated_data))
    body = encryptor.update(_bytes(plaintext)) + encryptor.finalize()
    return nonce + body + encryptor.tag


def sm4_gcm_decrypt(key: bytes, data: bytes, associated_data: bytes | None = None) -> bytes:
    """Inverse of sm4_gcm_encrypt; SM4DecryptError when the tag does not match (tampering, wrong key/AAD)."""
    algorithm = _algorithm(key)
    data = _bytes(data)
    if len(data) < GCM_NONCE_SIZE + GCM_TAG_SIZE:
        raise SM4DecryptError("SM4-GCM data is shorter than nonce plus tag")
    nonce, body, tag = data[:GCM_NONCE_SIZE], data[GCM_NONCE_SIZE:-GCM_TAG_SIZE], data[-GCM_TAG_SIZE:]
    decryptor = Cipher(algorithm, modes.GCM(nonce, tag)).decryptor()
    if associated_data:
        decryptor.authenticate_additional_data(bytes(associated_data))
    plain = decryptor.update(body)
    try:
        decryptor.finalize()
    except InvalidTag:
        raise SM4DecryptError("SM4-GCM tag check failed (tampered data, wrong key or wrong AAD)") from None
    return plain
