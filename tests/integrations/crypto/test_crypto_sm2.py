"""SM2 on both backends: GM/T 0003.5 vectors, round trips, tampering, key handling and speed."""

from __future__ import annotations

import logging
import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from integrations.crypto import (
    DEFAULT_USER_ID,
    SM2DecryptError,
    SM2Error,
    SM2PrivateKey,
    SM2PublicKey,
    _libcrypto,
    _sm2_openssl,
    _sm2_pure,
    sm2,
    sm2_backend,
)
from integrations.crypto._asn1 import (
    decode_ciphertext,
    decode_signature,
    encode_ciphertext,
    encode_signature,
    pem_encode,
    pkcs8,
)
from integrations.crypto._sm2_pure import N

# GM/T 0003.5-2012 example on the recommended curve (also used by GmSSL and BouncyCastle tests).
VECTOR_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
VECTOR_PUB = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
VECTOR_SIG_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
VECTOR_SIG_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
VECTOR_CT = encode_ciphertext(
    0x04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73,
    0xE858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0,
    bytes.fromhex("59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"),
    bytes.fromhex("21886CA989CA9C7D58087307CA93092D651EFA"),
)
MESSAGE = "居住证申请 2024-0001".encode()


@pytest.fixture
def key(backend: str) -> SM2PrivateKey:
    return SM2PrivateKey.generate()


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def test_a9_openssl_backend_is_the_one_in_use() -> None:
    # The speed requirement rests on libcrypto; a silent fall back to pure Python must fail CI.
    if os.environ.get("PERMITFLOW_SM2_BACKEND", "").lower() == "pure":
        pytest.fail("PERMITFLOW_SM2_BACKEND=pure is set: SM2 would miss its speed requirement")
    assert sm2_backend() == "openssl"


def test_a9_standard_vector_public_key(backend: str) -> None:
    key = SM2PrivateKey.from_private_bytes(VECTOR_D)
    assert key.public_key().public_bytes() == VECTOR_PUB
    assert key.private_bytes() == VECTOR_D


def test_a9_standard_vector_signature_verifies_with_za_of_default_id(backend: str) -> None:
    pub = SM2PublicKey.from_public_bytes(VECTOR_PUB)
    signature = encode_signature(VECTOR_SIG_R, VECTOR_SIG_S)
    assert pub.verify(b"message digest", signature)
    assert pub.verify(b"message digest", signature, user_id=DEFAULT_USER_ID)
    assert not pub.verify(b"message digest", signature, user_id=b"")  # OpenSSL 3.0's CLI default
    assert not pub.verify(b"message digesT", signature)


def test_a9_standard_vector_ciphertext_decrypts_c1c3c2(backend: str) -> None:
    key = SM2PrivateKey.from_private_bytes(VECTOR_D)
    assert key.decrypt(VECTOR_CT) == b"encryption standard"
    x, y, c3, c2 = decode_ciphertext(VECTOR_CT)
    # The same parts in C1C2C3 order (gmssl's default) must not decrypt.
    with pytest.raises(SM2DecryptError):
        key.decrypt(encode_ciphertext(x, y, c2 + c3[: 32 - len(c2)], c3[32 - len(c2) :]))


def test_s1_sign_verify_round_trip(key: SM2PrivateKey) -> None:
    pub = key.public_key()
    for message in (b"", b"a", MESSAGE, os.urandom(100_000)):
        signature = key.sign(message)
        decode_signature(signature)  # strict DER SEQUENCE{r, s}
        assert pub.verify(message, signature)
    assert pub.verify("text is UTF-8", key.sign(b"text is UTF-8"))


def test_s1_signature_bound_to_message_key_and_user_id(key: SM2PrivateKey) -> None:
    signature = key.sign(MESSAGE)
    assert not key.public_key().verify(MESSAGE + b".", signature)
    assert not SM2PrivateKey.generate().public_key().verify(MESSAGE, signature)
    custom = key.sign(MESSAGE, user_id=b"ALICE123@YAHOO.COM")
    assert key.public_key().verify(MESSAGE, custom, user_id=b"ALICE123@YAHOO.COM")
    assert not key.public_key().verify(MESSAGE, custom)


def test_s1_every_flipped_signature_byte_is_rejected(key: SM2PrivateKey) -> None:
    signature = key.sign(MESSAGE)
    pub = key.public_key()
    assert pub.verify(MESSAGE, signature)
    for index in range(len(signature)):
        assert not pub.verify(MESSAGE, _flip(signature, index)), f"byte {index} flipped still verifies"


def test_s1_malformed_or_out_of_range_signatures_are_rejected(key: SM2PrivateKey) -> None:
    signature = key.sign(MESSAGE)
    r, s = decode_signature(signature)
    pub = key.public_key()
    padded_r = b"\x02" + bytes([33 + (r >> 255)]) + b"\x00" * (1 + (r >> 255)) + r.to_bytes(32, "big")
    s_der = encode_signature(0, s)[5:]  # the INTEGER s
    non_minimal = b"\x30" + bytes([len(padded_r) + len(s_der)]) + padded_r + s_der
    for bad in (
        b"",
        signature[:-1],
        signature + b"\x00",
        non_minimal,  # same r, s with a superfluous leading zero: DER must be unique
        r.to_bytes(32, "big") + s.to_bytes(32, "big"),  # raw r‖s, gmssl's default
        encode_signature(r, 0),
        encode_signature(0, s),
        encode_signature(r + N, s),
        encode_signature(r, s + N),
    ):
        assert not pub.verify(MESSAGE, bad)


def test_s1_signatures_and_ciphertexts_use_fresh_secure_nonces(key: SM2PrivateKey) -> None:
    # gmssl draws k from `random`; reseeding it must not make two signatures or ciphertexts equal.
    random.seed(7)
    first_sig, first_ct = key.sign(MESSAGE), key.public_key().encrypt(MESSAGE)
    random.seed(7)
    second_sig, second_ct = key.sign(MESSAGE), key.public_key().encrypt(MESSAGE)
    assert first_sig != second_sig and first_ct != second_ct
    assert decode_signature(first_sig)[0] != decode_signature(second_sig)[0]


def test_s1_encrypt_decrypt_round_trip(key: SM2PrivateKey) -> None:
    for message in (b"x", MESSAGE, os.urandom(70_000)):  # 70 kB needs a 3-byte DER length
        ciphertext = key.public_key().encrypt(message)
        _x, _y, c3, c2 = decode_ciphertext(ciphertext)
        assert len(c3) == 32 and len(c2) == len(message)
        assert key.decrypt(ciphertext) == message
    assert key.decrypt(key.public_key().encrypt("文本")) == "文本".encode()


def test_s1_empty_message_cannot_be_encrypted(key: SM2PrivateKey) -> None:
    with pytest.raises(SM2Error, match="empty"):
        key.public_key().encrypt(b"")


@pytest.mark.parametrize("part", ["x", "y", "c3", "c2"])
def test_s1_tampered_ciphertext_is_rejected(key: SM2PrivateKey, part: str) -> None:
    ciphertext = key.public_key().encrypt(MESSAGE)
    fields = dict(zip(("x", "y", "c3", "c2"), decode_ciphertext(ciphertext), strict=True))
    for index in (0, 7, -1):
        tampered = dict(fields)
        value = fields[part]
        if isinstance(value, int):
            tampered[part] = value ^ (1 << (8 * (index % 32)))
        else:
            tampered[part] = _flip(value, index)
        with pytest.raises(SM2DecryptError):
            key.decrypt(encode_ciphertext(tampered["x"], tampered["y"], tampered["c3"], tampered["c2"]))


def test_s1_malformed_or_foreign_ciphertext_is_rejected(key: SM2PrivateKey) -> None:
    ciphertext = key.public_key().encrypt(MESSAGE)
    x, y, c3, c2 = decode_ciphertext(ciphertext)
    for bad in (
        b"",
        ciphertext[:-1],
        ciphertext + b"\x00",
        b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2,  # raw C1C3C2, not DER
        encode_ciphertext(x, y, c3[:31], c2),
    ):
        with pytest.raises(SM2DecryptError):
            key.decrypt(bad)
    with pytest.raises(SM2DecryptError):
        SM2PrivateKey.generate().decrypt(ciphertext)


def test_s1_pem_round_trip_and_layout(key: SM2PrivateKey) -> None:
    private_pem, public_pem = key.to_pem(), key.public_key().to_pem()
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    loaded = SM2PrivateKey.from_pem(private_pem)
    assert loaded.private_bytes() == key.private_bytes()
    assert SM2PublicKey.from_pem(public_pem) == key.public_key() == loaded.public_key()
    assert SM2PublicKey.from_pem(public_pem.decode()).verify(MESSAGE, loaded.sign(MESSAGE))
    assert key.private_bytes().hex() not in repr(key) and "PRIVATE" not in repr(key)


def test_s1_public_bytes_forms(key: SM2PrivateKey) -> None:
    # Find keys whose X starts with a 0 or 4 nibble: gmssl's lstrip("04") corrupts exactly those.
    keys = [key] + [SM2PrivateKey.generate() for _ in range(40)]
    tricky = [k for k in keys if k.public_key().public_bytes()[1] >> 4 in (0, 4)]
    assert tricky, "no key with a 0/4 leading nibble among 41 (chance ~ 0.4%)"
    for k in tricky:
        point = k.public_key().public_bytes()
        assert len(point) == 65 and point[0] == 4
        assert SM2PublicKey.from_public_bytes(point[1:]) == k.public_key()
        assert SM2PublicKey.from_public_bytes(point).verify(MESSAGE, k.sign(MESSAGE))


def test_s1_invalid_keys_are_refused(backend: str) -> None:
    good = SM2PrivateKey.generate()
    for scalar in (0, N - 1, N, 2**256 - 1):
        with pytest.raises(SM2Error, match="range"):
            SM2PrivateKey.from_private_bytes(scalar.to_bytes(32, "big"))
        with pytest.raises(SM2Error):
            SM2PrivateKey.from_pem(pem_encode("PRIVATE KEY", pkcs8(scalar % 2**256, None)))
    with pytest.raises(SM2Error):
        SM2PrivateKey.from_private_bytes(b"\x01" * 31)
    # A file whose stored public key belongs to another private key.
    other_point = SM2PrivateKey.generate().public_key().public_bytes()
    mismatched = pem_encode("PRIVATE KEY", pkcs8(int.from_bytes(good.private_bytes(), "big"), other_point))
    with pytest.raises(SM2Error):
        SM2PrivateKey.from_pem(mismatched)
    off_curve = bytearray(good.public_key().public_bytes())
    off_curve[-1] ^= 1
    with pytest.raises(SM2Error):
        SM2PublicKey.from_public_bytes(bytes(off_curve))
    for junk in (b"", b"not a pem", good.public_key().to_pem()):
        with pytest.raises(SM2Error):
            SM2PrivateKey.from_pem(junk)
    with pytest.raises(SM2Error):
        SM2PublicKey.from_pem(good.to_pem().replace(b"PRIVATE", b"PUBLIC"))


def test_s1_keys_on_other_curves_are_refused(backend: str) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    private_pem = p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = p256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(SM2Error):
        SM2PrivateKey.from_pem(private_pem)
    with pytest.raises(SM2Error):
        SM2PublicKey.from_pem(public_pem)


def test_s1_encrypted_pem_is_refused(backend: str) -> None:
    encrypted = SM2PrivateKey.generate().to_pem().replace(b"PRIVATE KEY", b"ENCRYPTED PRIVATE KEY")
    with pytest.raises(SM2Error, match="encrypted"):
        SM2PrivateKey.from_pem(encrypted)


def test_s1_wrong_input_types_raise_type_error(key: SM2PrivateKey) -> None:
    with pytest.raises(TypeError):
        key.sign(12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        key.public_key().encrypt(None)  # type: ignore[arg-type]


def test_a9_sm2_runs_on_openssl_so_bench_crypto_can_meet_500_per_second() -> None:
    # The rate itself (>= 500 signs and verifies/s) is measured by bench/bench_crypto.py, not asserted here.
    assert sm2_backend() == "openssl"
    key = SM2PrivateKey.generate()
    signature = key.sign(MESSAGE)
    assert key.public_key().verify(MESSAGE, signature)


def test_s1_keys_are_safe_to_share_between_threads(backend: str) -> None:
    # Workers share one loaded key; ctypes releases the GIL, so libcrypto really runs concurrently.
    key = SM2PrivateKey.generate()
    pub = key.public_key()

    def work(i: int) -> bool:
        message = MESSAGE + str(i).encode()
        ok = pub.verify(message, key.sign(message)) and key.decrypt(pub.encrypt(message)) == message
        return ok and not pub.verify(message + b"!", key.sign(message))

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(work, range(40)))


def test_s1_backend_selection_falls_back_loudly_without_libcrypto(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PERMITFLOW_LIBCRYPTO", "/nonexistent/libcrypto.so.3")
    _libcrypto.load.cache_clear()
    try:
        with pytest.raises(_libcrypto.LibCryptoUnavailable):
            _libcrypto.load()
        monkeypatch.delenv("PERMITFLOW_SM2_BACKEND", raising=False)
        with caplog.at_level(logging.WARNING, logger="integrations.crypto.sm2"):
            assert sm2._select_backend() is _sm2_pure
        assert "pure-Python fallback" in caplog.text
        monkeypatch.setenv("PERMITFLOW_SM2_BACKEND", "openssl")
        with pytest.raises(SM2Error, match="libcrypto"):
            sm2._select_backend()
    finally:
        _libcrypto.load.cache_clear()
    monkeypatch.delenv("PERMITFLOW_LIBCRYPTO")
    monkeypatch.setenv("PERMITFLOW_SM2_BACKEND", "pure")
    assert sm2._select_backend() is _sm2_pure
    monkeypatch.delenv("PERMITFLOW_SM2_BACKEND")
    assert sm2._select_backend() is _sm2_openssl
