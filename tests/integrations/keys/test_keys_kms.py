"""The KMS client (A9) against the KMS simulator over real HTTP: the same interface as the local keystore."""

from __future__ import annotations

import secrets

import pytest
import requests

from integrations.crypto import SM2DecryptError, SM2PublicKey
from integrations.http import HttpSettings
from integrations.keys import KeyProvider, KeyProviderError, KmsKeyProvider, UnknownKeyId

FAST = HttpSettings(connect_timeout=1.0, read_timeout=2.0, retries=0, circuit_failures=100)


@pytest.fixture
def kms(simulator) -> KmsKeyProvider:
    """A client on its own KMS tenant (a fresh token), trusting its current keys for 0 s."""
    return KmsKeyProvider(simulator.url + "/kms", f"t-{secrets.token_hex(6)}", FAST, current_ttl=0)


def test_data_keys_come_from_the_kms_and_rotate(kms):
    assert isinstance(kms, KeyProvider)
    first = kms.symmetric_key("field-enc")
    assert first.key_id == "field-enc:1" and len(first.material) == 16
    assert len(kms.symmetric_key("blind-index").material) == 32
    new_id = kms.rotate("field-enc")
    assert new_id == "field-enc:2" and kms.symmetric_key("field-enc").key_id == new_id
    assert kms.symmetric_key("field-enc", "field-enc:1") == first
    assert kms.key_ids("field-enc") == ["field-enc:2", "field-enc:1"]
    listed = {k.key_id: k.current for k in kms.list_keys()}
    assert listed["field-enc:2"] is True and listed["field-enc:1"] is False


def test_another_client_of_the_same_tenant_sees_the_rotation(kms, simulator):
    other = KmsKeyProvider(simulator.url + "/kms", kms.session.headers["Authorization"][7:], FAST, current_ttl=0)
    key = kms.symmetric_key("field-mac")
    new_id = other.rotate("field-mac")
    assert kms.symmetric_key("field-mac").key_id == new_id
    assert other.symmetric_key("field-mac", key.key_id) == key


def test_signing_verification_and_decryption_at_the_kms(kms):
    key_id, signature = kms.sign("mca", b"response body")
    assert key_id == "mca:1"
    assert kms.verify(key_id, b"response body", signature) and not kms.verify(key_id, b"tampered", signature)
    pem_id, pem = kms.public_key_pem("mca")
    assert pem_id == key_id and SM2PublicKey.from_pem(pem).verify(b"response body", signature)
    ciphertext = SM2PublicKey.from_pem(pem).encrypt(b"0123456789abcdef")
    assert kms.sm2_decrypt(key_id, ciphertext) == b"0123456789abcdef"
    with pytest.raises(SM2DecryptError):
        kms.sm2_decrypt(key_id, ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]))


def test_refusals_are_typed(kms, simulator):
    with pytest.raises(UnknownKeyId):
        kms.symmetric_key("field-enc", "field-enc:99")
    with pytest.raises(KeyProviderError) as info:
        kms.symmetric_key("mca")
    assert info.value.code == "WRONG_KEY_KIND"
    answer = requests.post(simulator.url + "/kms/v1/data-keys/current", json={"purpose": "field-enc"}, timeout=5)
    assert answer.status_code == 401 and answer.json()["code"] == "UNAUTHORIZED"


def test_an_unreachable_kms_is_a_key_provider_error():
    dead = KmsKeyProvider("http://127.0.0.1:9/kms", "t", FAST, current_ttl=0)
    with pytest.raises(KeyProviderError) as info:
        dead.symmetric_key("field-enc")
    assert info.value.code == "KMS_UNAVAILABLE"
