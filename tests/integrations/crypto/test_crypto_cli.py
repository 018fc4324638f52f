"""`permitflow crypto …` through click's CliRunner, checked against the library and OpenSSL."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from crypto_helpers import DISTID, needs_openssl, openssl_ok

from integrations.crypto import SM2PrivateKey, SM2PublicKey, hmac_sm3
from integrations.crypto.cli import crypto

MESSAGE = "申请人 张三 / applicant record\n".encode()


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(crypto, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def keys(backend: str, tmp_path: Path) -> tuple[Path, Path]:
    key, pub = tmp_path / "key.pem", tmp_path / "pub.pem"
    result = invoke("keygen", "--out", key, "--pub", pub)
    assert result.exit_code == 0, result.output
    return key, pub


@pytest.fixture
def message(tmp_path: Path) -> Path:
    path = tmp_path / "message.txt"
    path.write_bytes(MESSAGE)
    return path


def test_s1_keygen_writes_matching_pem_pair_private_one_0600(keys: tuple[Path, Path]) -> None:
    key, pub = keys
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert SM2PrivateKey.from_pem(key.read_bytes()).public_key() == SM2PublicKey.from_pem(pub.read_bytes())


def test_s1_keygen_refuses_to_overwrite_without_force(keys: tuple[Path, Path]) -> None:
    key, pub = keys
    before = key.read_bytes()
    result = invoke("keygen", "--out", key, "--pub", pub)
    assert result.exit_code == 1 and "--force" in result.output
    assert key.read_bytes() == before
    assert invoke("keygen", "--out", key, "--pub", pub, "--force").exit_code == 0
    assert key.read_bytes() != before


def test_s1_sign_then_verify(keys: tuple[Path, Path], message: Path, tmp_path: Path) -> None:
    key, pub = keys
    sig = tmp_path / "message.sig"
    assert invoke("sign", "--key", key, "--in", message, "--out", sig).exit_code == 0
    assert SM2PublicKey.from_pem(pub.read_bytes()).verify(MESSAGE, sig.read_bytes())
    valid = invoke("verify", "--pub", pub, "--in", message, "--sig", sig)
    assert valid.exit_code == 0 and "valid" in valid.stdout
    message.write_bytes(MESSAGE + b"forged")
    invalid = invoke("verify", "--pub", pub, "--in", message, "--sig", sig)
    assert invalid.exit_code == 1 and "INVALID" in invalid.stderr


def test_s1_verify_with_unreadable_key_exits_2(keys: tuple[Path, Path], message: Path, tmp_path: Path) -> None:
    key, _ = keys
    sig = tmp_path / "message.sig"
    invoke("sign", "--key", key, "--in", message, "--out", sig)
    result = invoke("verify", "--pub", key, "--in", message, "--sig", sig)  # a private key PEM
    assert result.exit_code == 2 and f"cannot load {key}" in result.output


def test_s1_encrypt_then_decrypt(keys: tuple[Path, Path], message: Path, tmp_path: Path) -> None:
    key, pub = keys
    ct, out = tmp_path / "message.ct", tmp_path / "message.out"
    assert invoke("encrypt", "--pub", pub, "--in", message, "--out", ct).exit_code == 0
    assert SM2PrivateKey.from_pem(key.read_bytes()).decrypt(ct.read_bytes()) == MESSAGE
    assert invoke("decrypt", "--key", key, "--in", ct, "--out", out).exit_code == 0
    assert out.read_bytes() == MESSAGE


def test_s1_decrypt_of_tampered_ciphertext_fails_clearly(
    keys: tuple[Path, Path], message: Path, tmp_path: Path
) -> None:
    key, pub = keys
    ct, out = tmp_path / "message.ct", tmp_path / "message.out"
    invoke("encrypt", "--pub", pub, "--in", message, "--out", ct)
    data = bytearray(ct.read_bytes())
    data[-1] ^= 0x01
    ct.write_bytes(bytes(data))
    result = invoke("decrypt", "--key", key, "--in", ct, "--out", out)
    assert result.exit_code == 1
    assert "decryption failed" in result.stderr and "tampered" in result.stderr
    assert not out.exists()


def test_s1_encrypt_of_empty_file_fails_clearly(keys: tuple[Path, Path], tmp_path: Path) -> None:
    _, pub = keys
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    result = invoke("encrypt", "--pub", pub, "--in", empty, "--out", tmp_path / "ct")
    assert result.exit_code == 1 and "empty" in result.stderr


def test_s1_sm3_and_hmac_print_hex(tmp_path: Path) -> None:
    data = tmp_path / "abc"
    data.write_bytes(b"abc")
    result = invoke("sm3", "--in", data)
    assert result.exit_code == 0
    assert result.stdout.strip() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    result = invoke("hmac", "--key-hex", "00112233445566778899aabbccddeeff", "--in", data)
    assert result.exit_code == 0
    assert result.stdout.strip() == hmac_sm3(bytes.fromhex("00112233445566778899aabbccddeeff"), b"abc")
    for bad in ("xyz", "", "abc"):
        assert invoke("hmac", "--key-hex", bad, "--in", data).exit_code == 2


def test_s1_missing_input_file_is_a_usage_error(keys: tuple[Path, Path], tmp_path: Path) -> None:
    key, _ = keys
    result = invoke("sign", "--key", key, "--in", tmp_path / "nope", "--out", tmp_path / "sig")
    assert result.exit_code == 2


@needs_openssl
def test_a9_cli_output_interoperates_with_openssl(keys: tuple[Path, Path], message: Path, tmp_path: Path) -> None:
    key, pub = keys
    sig, ct = tmp_path / "m.sig", tmp_path / "m.ct"
    invoke("sign", "--key", key, "--in", message, "--out", sig)
    openssl_ok(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        pub,
        "-in",
        message,
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        DISTID,
        "-sigfile",
        sig,
    )
    invoke("encrypt", "--pub", pub, "--in", message, "--out", ct)
    assert openssl_ok("pkeyutl", "-decrypt", "-inkey", key, "-in", ct) == MESSAGE
    openssl_ok(
        "pkeyutl",
        "-sign",
        "-inkey",
        key,
        "-in",
        message,
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        DISTID,
        "-out",
        sig,
    )
    assert invoke("verify", "--pub", pub, "--in", message, "--sig", sig).exit_code == 0
