"""SM3, HMAC-SM3 and SM4 against standard vectors, plus the SM4-CBC/GCM wrappers' guarantees."""

from __future__ import annotations

import pytest
from crypto_helpers import needs_openssl, run_openssl
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from integrations.crypto import (
    SM4DecryptError,
    SM4Error,
    generate_sm4_key,
    hmac_sm3,
    sm3_hex,
    sm4_cbc_decrypt,
    sm4_cbc_encrypt,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)

SM4_VECTOR_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")
KEY = bytes(range(16))


def test_a9_sm3_standard_vectors() -> None:
    # GB/T 32905 appendix A: "abc" and the 64-byte "abcd" × 16 message.
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3_hex("abc") == sm3_hex(b"abc")
    assert sm3_hex(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_a9_sm4_block_standard_vector() -> None:
    # GB/T 32907 appendix A.1: one block, key = plaintext.
    encryptor = Cipher(algorithms.SM4(SM4_VECTOR_KEY), modes.ECB()).encryptor()
    block = encryptor.update(SM4_VECTOR_KEY) + encryptor.finalize()
    assert block.hex() == "681edf34d206965e86b3e94f536e4246"


@needs_openssl
def test_a9_hmac_sm3_matches_openssl() -> None:
    key, data = b"permitflow-key", b"residence permit 2024-001"
    result = run_openssl(
        "mac", "-digest", "SM3", "-macopt", f"hexkey:{key.hex()}", "-in", "/dev/stdin", "HMAC", data=data
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip().lower() == hmac_sm3(key, data)
    assert hmac_sm3(key, data) != hmac_sm3(key + b"!", data)


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000])
def test_s1_sm4_cbc_round_trip_and_layout(size: int) -> None:
    plain = bytes(range(256)) * 4
    plain = plain[:size]
    data = sm4_cbc_encrypt(KEY, plain)
    assert len(data) == 16 + (size // 16 + 1) * 16  # IV + PKCS#7 always adds 1..16 bytes
    assert sm4_cbc_decrypt(KEY, data) == plain
    # The body is plain SM4-CBC under the prefixed IV (what a Java/BouncyCastle peer would compute).
    decryptor = Cipher(algorithms.SM4(KEY), modes.CBC(data[:16])).decryptor()
    padded = decryptor.update(data[16:]) + decryptor.finalize()
    assert padded[:size] == plain and padded[size:] == bytes([len(padded) - size]) * (len(padded) - size)


def test_s1_sm4_fresh_iv_and_nonce_per_message() -> None:
    cbc = {sm4_cbc_encrypt(KEY, b"same message") for _ in range(20)}
    gcm = {sm4_gcm_encrypt(KEY, b"same message") for _ in range(20)}
    assert len(cbc) == 20 and len({c[:16] for c in cbc}) == 20
    assert len(gcm) == 20 and len({c[:12] for c in gcm}) == 20


def test_s1_sm4_cbc_rejects_bad_padding_and_lengths() -> None:
    data = bytearray(sm4_cbc_encrypt(KEY, b"x" * 20))
    data[-17] ^= 0x01  # flips the last plaintext byte, i.e. the padding length
    with pytest.raises(SM4DecryptError):
        sm4_cbc_decrypt(KEY, bytes(data))
    for bad in (b"", b"\x00" * 16, b"\x00" * 33):
        with pytest.raises(SM4DecryptError):
            sm4_cbc_decrypt(KEY, bad)


@pytest.mark.parametrize("size", [0, 1, 16, 1000])
def test_s1_sm4_gcm_round_trip(size: int) -> None:
    plain = b"\xa5" * size
    data = sm4_gcm_encrypt(KEY, plain, b"case-42")
    assert len(data) == 12 + size + 16
    assert sm4_gcm_decrypt(KEY, data, b"case-42") == plain


def test_s1_sm4_gcm_detects_tampering_wrong_key_and_aad() -> None:
    data = sm4_gcm_encrypt(KEY, b"applicant record", b"case-42")
    for i in range(len(data)):  # nonce, ciphertext and tag bytes alike
        tampered = bytearray(data)
        tampered[i] ^= 0x80
        with pytest.raises(SM4DecryptError):
            sm4_gcm_decrypt(KEY, bytes(tampered), b"case-42")
    with pytest.raises(SM4DecryptError):
        sm4_gcm_decrypt(KEY, data, b"case-43")
    with pytest.raises(SM4DecryptError):
        sm4_gcm_decrypt(generate_sm4_key(), data, b"case-42")
    with pytest.raises(SM4DecryptError):
        sm4_gcm_decrypt(KEY, data[:27])


@pytest.mark.parametrize("bad_key", [b"", b"k" * 15, b"k" * 17, b"k" * 32])
def test_s1_sm4_rejects_bad_key_length(bad_key: bytes) -> None:
    for call in (
        lambda: sm4_cbc_encrypt(bad_key, b"x"),
        lambda: sm4_cbc_decrypt(bad_key, b"\x00" * 32),
        lambda: sm4_gcm_encrypt(bad_key, b"x"),
        lambda: sm4_gcm_decrypt(bad_key, b"\x00" * 28),
    ):
        with pytest.raises(SM4Error, match="16 bytes"):
            call()


def test_s1_generated_sm4_keys_are_random_16_bytes() -> None:
    keys = {generate_sm4_key() for _ in range(50)}
    assert len(keys) == 50 and all(len(k) == 16 for k in keys)
