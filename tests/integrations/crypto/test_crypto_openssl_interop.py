"""Interoperability with the OpenSSL 3 command line, in both directions, on both SM2 backends."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from crypto_helpers import DISTID, needs_openssl, openssl_ok, run_openssl

from integrations.crypto import SM2DecryptError, SM2Error, SM2PrivateKey, SM2PublicKey, _sm2_openssl, sm3_hex
from integrations.crypto._asn1 import decode_ciphertext

pytestmark = needs_openssl

MESSAGE = "上海市居住证 permit #2024-0001\n".encode()


@pytest.fixture
def ours(backend: str, tmp_path: Path) -> tuple[SM2PrivateKey, Path, Path]:
    """A key pair made here, written as PEM files."""
    key = SM2PrivateKey.generate()
    (tmp_path / "ours.key").write_bytes(key.to_pem())
    (tmp_path / "ours.pub").write_bytes(key.public_key().to_pem())
    return key, tmp_path / "ours.key", tmp_path / "ours.pub"


@pytest.fixture
def theirs(backend: str, tmp_path: Path) -> tuple[Path, Path]:
    """A key pair made by `openssl genpkey`."""
    key, pub = tmp_path / "theirs.key", tmp_path / "theirs.pub"
    openssl_ok("genpkey", "-algorithm", "SM2", "-out", key)
    openssl_ok("pkey", "-in", key, "-pubout", "-out", pub)
    return key, pub


def _verify_cli(pub: Path, data: Path, sig: Path, *opts: str) -> bool:
    result = run_openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        pub,
        "-in",
        data,
        "-rawin",
        "-digest",
        "sm3",
        *opts,
        "-sigfile",
        sig,
    )
    return result.returncode == 0 and b"Signature Verified Successfully" in result.stdout


def test_a9_openssl_version_is_3() -> None:
    assert openssl_ok("version").startswith(b"OpenSSL 3.")


def test_a9_signature_made_here_verifies_in_openssl(ours: tuple[SM2PrivateKey, Path, Path], tmp_path: Path) -> None:
    key, _, pub = ours
    data, sig = tmp_path / "msg", tmp_path / "msg.sig"
    data.write_bytes(MESSAGE)
    sig.write_bytes(key.sign(MESSAGE))
    assert _verify_cli(pub, data, sig, "-pkeyopt", DISTID)
    # ZA really uses 1234567812345678: OpenSSL's own empty-ID default must reject the same signature.
    assert not _verify_cli(pub, data, sig)
    data.write_bytes(MESSAGE + b"x")
    assert not _verify_cli(pub, data, sig, "-pkeyopt", DISTID)


def test_a9_signature_made_by_openssl_verifies_here(theirs: tuple[Path, Path], tmp_path: Path) -> None:
    key, pub = theirs
    data, sig = tmp_path / "msg", tmp_path / "msg.sig"
    data.write_bytes(MESSAGE)
    openssl_ok(
        "pkeyutl",
        "-sign",
        "-inkey",
        key,
        "-in",
        data,
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        DISTID,
        "-out",
        sig,
    )
    public = SM2PublicKey.from_pem(pub.read_bytes())
    assert public.verify(MESSAGE, sig.read_bytes())
    assert SM2PrivateKey.from_pem(key.read_bytes()).public_key().verify(MESSAGE, sig.read_bytes())
    assert not public.verify(MESSAGE + b"x", sig.read_bytes())
    # Signed with OpenSSL's default empty ID: must not pass as a standard-ID signature.
    openssl_ok("pkeyutl", "-sign", "-inkey", key, "-in", data, "-rawin", "-digest", "sm3", "-out", sig)
    assert not public.verify(MESSAGE, sig.read_bytes())
    assert public.verify(MESSAGE, sig.read_bytes(), user_id=b"")


@pytest.mark.parametrize("size", [1, 100, 70_000])
def test_a9_ciphertext_made_here_decrypts_in_openssl(
    ours: tuple[SM2PrivateKey, Path, Path], tmp_path: Path, size: int
) -> None:
    key, key_path, _ = ours
    message = os.urandom(size)
    ct = tmp_path / "ct.der"
    ct.write_bytes(key.public_key().encrypt(message))
    assert openssl_ok("pkeyutl", "-decrypt", "-inkey", key_path, "-in", ct) == message
    # OpenSSL's parser sees SEQUENCE{INTEGER x, INTEGER y, OCTET STRING C3 (32), OCTET STRING C2}.
    parsed = openssl_ok("asn1parse", "-inform", "DER", "-in", ct).decode()
    fields = re.findall(r"d=1 +hl=\d+ +l= *(\d+) prim: (INTEGER|OCTET STRING)", parsed)
    assert [kind for _, kind in fields] == ["INTEGER", "INTEGER", "OCTET STRING", "OCTET STRING"]
    assert [int(length) for length, _ in fields[2:]] == [32, size]


def test_a9_tampered_ciphertext_made_here_fails_in_openssl(
    ours: tuple[SM2PrivateKey, Path, Path], tmp_path: Path
) -> None:
    key, key_path, _ = ours
    ciphertext = key.public_key().encrypt(MESSAGE)
    ct = tmp_path / "ct.der"
    ct.write_bytes(ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]))  # last byte of C2
    assert run_openssl("pkeyutl", "-decrypt", "-inkey", key_path, "-in", ct).returncode != 0


def test_a9_ciphertext_made_by_openssl_decrypts_here(theirs: tuple[Path, Path], tmp_path: Path) -> None:
    key_path, pub = theirs
    plain, ct = tmp_path / "plain", tmp_path / "ct.der"
    plain.write_bytes(MESSAGE)
    openssl_ok("pkeyutl", "-encrypt", "-pubin", "-inkey", pub, "-in", plain, "-out", ct)
    key = SM2PrivateKey.from_pem(key_path.read_bytes())
    ciphertext = ct.read_bytes()
    assert key.decrypt(ciphertext) == MESSAGE
    _x, _y, c3, c2 = decode_ciphertext(ciphertext)
    assert len(c3) == 32 and len(c2) == len(MESSAGE)  # C1C3C2: the hash comes before the body
    with pytest.raises(SM2DecryptError):
        key.decrypt(ciphertext.replace(c3, bytes([c3[0] ^ 1]) + c3[1:]))


def test_a9_pem_keys_made_here_load_in_openssl(ours: tuple[SM2PrivateKey, Path, Path], tmp_path: Path) -> None:
    key, key_path, pub_path = ours
    text = openssl_ok("pkey", "-in", key_path, "-text", "-noout").decode()
    assert "SM2" in text or "sm2" in text.lower()
    assert key.private_bytes().hex() in "".join(text.split()).replace(":", "")
    # OpenSSL re-encodes both keys byte for byte as we wrote them, and derives the same public key.
    assert openssl_ok("pkey", "-in", key_path) == key.to_pem()
    assert openssl_ok("pkey", "-in", key_path, "-pubout") == pub_path.read_bytes()
    assert openssl_ok("pkey", "-pubin", "-in", pub_path) == pub_path.read_bytes()
    assert run_openssl("pkey", "-in", key_path, "-check", "-noout").returncode == 0


def test_a9_pem_keys_made_by_openssl_load_here(theirs: tuple[Path, Path], tmp_path: Path) -> None:
    key_path, pub_path = theirs
    key = SM2PrivateKey.from_pem(key_path.read_bytes())
    pub = SM2PublicKey.from_pem(pub_path.read_bytes())
    assert key.public_key() == pub
    assert key.to_pem() == key_path.read_bytes()
    assert pub.to_pem() == pub_path.read_bytes()
    # The traditional form `openssl ec` writes ("SM2 PRIVATE KEY") loads too.
    sec1 = tmp_path / "sec1.pem"
    openssl_ok("ec", "-in", key_path, "-out", sec1)
    assert SM2PrivateKey.from_pem(sec1.read_bytes()).private_bytes() == key.private_bytes()


def test_a9_encrypted_openssl_key_is_refused(backend: str, theirs: tuple[Path, Path], tmp_path: Path) -> None:
    key_path, _ = theirs
    locked = tmp_path / "locked.pem"
    openssl_ok("pkey", "-in", key_path, "-aes256", "-passout", "pass:secret", "-out", locked)
    with pytest.raises(SM2Error):
        SM2PrivateKey.from_pem(locked.read_bytes())
    if backend == "openssl":
        # Below the wrapper's own check, libcrypto must fail rather than prompt for a passphrase.
        with pytest.raises(SM2Error):
            _sm2_openssl.private_from_pem(locked.read_bytes())


def test_a9_sm3_matches_openssl(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_bytes(os.urandom(5000))
    out = openssl_ok("dgst", "-sm3", "-r", data).decode().split()[0]
    assert out == sm3_hex(data.read_bytes())
