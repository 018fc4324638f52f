"""The MCA 3.0 reference client and `permitflow mca-client` against the live app over real HTTP."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner

from integrations.crypto import SM2PrivateKey, sm3_hex
from integrations.mca_v3_client import McaClientError, McaV3Client, reply_canonical_string
from tests.integrations.crypto.crypto_helpers import DISTID, needs_openssl, run_openssl
from tests.webapp.mca_support import APP_ID, mca_fixture  # noqa: F401  (the `mca` fixture)
from webapp.cli import main


@pytest.fixture
def files(mca, tmp_path):
    key = tmp_path / "app-key.pem"
    key.write_bytes(mca.app_key.to_pem())
    server = tmp_path / "server-pub.pem"
    server.write_bytes(mca.server_pem)
    data = tmp_path / "q.json"
    data.write_text(json.dumps({"partialAddress": "田林路", "limit": 3}, ensure_ascii=False), encoding="utf-8")
    return {"key": key, "server": server, "data": data, "dir": tmp_path}


def _cli(mca, files, interface: str, *extra: str):
    args = ["mca-client", interface, "--data", str(files["data"]), "--app-id", APP_ID, "--key", str(files["key"])]
    return CliRunner().invoke(main, [*args, "--url", mca.url, *extra])


def test_b1_mca_client_command_calls_an_interface_and_prints_the_decrypted_answer(mca, files):
    result = _cli(mca, files, "house.fuzzyQuery", "--server-pub", str(files["server"]))
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["code"] == "OK" and out["signedBy"] == mca.server_key_id and "candidates" in out["data"]


def test_b1_mca_client_command_exit_codes(mca, files):
    files["data"].write_text('{"partialAddress": "田"}', encoding="utf-8")  # shorter than 2 characters
    refused = _cli(mca, files, "house.fuzzyQuery", "--server-pub", str(files["server"]))
    assert refused.exit_code == 1 and json.loads(refused.output)["code"] == "MCA_FIELD_INVALID"
    impostor = files["dir"] / "other.pem"
    impostor.write_bytes(SM2PrivateKey.generate().public_key().to_pem())
    untrusted = _cli(mca, files, "house.fuzzyQuery", "--server-pub", str(impostor))
    assert untrusted.exit_code == 2 and "differs from the pinned" in untrusted.output


def test_b1_client_requires_a_pinned_key_unless_trust_on_first_use_is_asked_for(mca, files):
    with pytest.raises(McaClientError, match="pinned"):
        McaV3Client(mca.url, APP_ID, mca.app_key.to_pem())
    unpinned = _cli(mca, files, "house.fuzzyQuery")
    assert unpinned.exit_code == 2 and "--server-pub" in unpinned.output
    tofu = _cli(mca, files, "house.fuzzyQuery", "--trust-on-first-use")
    assert tofu.exit_code == 0, tofu.output
    client = McaV3Client(mca.url, APP_ID, mca.app_key.to_pem(), trust_on_first_use=True)
    answer = client.call("validate.servicePoint", {"servicePoint": "XH-TL-01"})
    assert answer.ok and client.server_key_id == mca.server_key_id and answer.data["legal"] in (True, False)


def test_b1_client_pinned_key_mismatch_is_refused(mca):
    client = McaV3Client(mca.url, APP_ID, mca.app_key, SM2PrivateKey.generate().public_key().to_pem())
    with pytest.raises(McaClientError, match="pinned"):
        client.call("house.fuzzyQuery", {"partialAddress": "田林路"})


@needs_openssl
def test_b1_answers_verify_with_the_openssl_command_line(mca, tmp_path):
    """A partner on OpenSSL (or BouncyCastle, same conventions) can check our signature independently."""
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    import requests

    raw = requests.post(f"{mca.url}/api/mca/v3/house.fuzzyQuery", data=prepared.body, headers=prepared.headers)
    h = raw.headers
    canonical = reply_canonical_string(
        h["X-Mca-App-Id"],
        h["X-Mca-Interface"],
        h["X-Mca-Timestamp"],
        h["X-Mca-Nonce"],
        h["X-Mca-Key-Id"],
        raw.content,
        sm3_hex(prepared.body),
    )
    (tmp_path / "data").write_bytes(canonical)
    (tmp_path / "sig").write_bytes(base64.b64decode(h["X-Mca-Signature"]))
    (tmp_path / "pub.pem").write_bytes(mca.server_pem)

    def verify(data_file: str) -> bool:
        result = run_openssl(
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            tmp_path / "pub.pem",
            "-in",
            tmp_path / data_file,
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            DISTID,
            "-sigfile",
            tmp_path / "sig",
        )
        return result.returncode == 0 and b"Signature Verified Successfully" in result.stdout

    assert verify("data")
    (tmp_path / "forged").write_bytes(canonical.replace(b"house.fuzzyQuery", b"house.exactQuery"))
    assert not verify("forged")
