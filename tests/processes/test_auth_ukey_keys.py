"""UKey keys given as a public key or as an X.509 SM2 certificate (as security gateways forward them)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from integrations.crypto import CryptoError, SM2PrivateKey
from processes.ukey_keys import public_key_from


def _certificate(tmp_path) -> tuple[SM2PrivateKey, str]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    key = SM2PrivateKey.generate()
    (tmp_path / "k.pem").write_bytes(key.to_pem())
    subprocess.run(
        ["openssl", "req", "-x509", "-new", "-key", str(tmp_path / "k.pem"), "-subj", "/CN=clerk01", "-days", "30",
         "-sm3", "-sigopt", "distid:1234567812345678", "-out", str(tmp_path / "c.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, (tmp_path / "c.pem").read_text()


def test_a_public_key_and_a_certificate_give_the_same_key(tmp_path):
    key, certificate = _certificate(tmp_path)
    assert public_key_from(certificate) == key.public_key()
    assert public_key_from(key.public_key().to_pem().decode()) == key.public_key()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        "-----BEGIN RSA KEY-----\nAA\n-----END RSA KEY-----",
    ],
)
def test_anything_else_is_refused(text):
    with pytest.raises((ValueError, CryptoError)):
        public_key_from(text)


def test_an_administrator_can_register_a_certificate(ctx, tmp_path):
    from processes.users import register_ukey, upsert_user

    key, certificate = _certificate(tmp_path)
    user = upsert_user("clerk-cert", "证书用户", "clerk", "Pw#123456789", "XH-1", "徐汇区")
    registered = register_ukey(user.id, certificate, by=None)
    assert registered.ukey_public_key == key.public_key().to_pem().decode()
