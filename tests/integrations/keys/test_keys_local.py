"""The local keystore (A9): wrapped data keys, rotation across processes, the master-key checks."""

from __future__ import annotations

import json

import pytest

from integrations.crypto import SM2DecryptError, SM2PublicKey
from integrations.keys import (
    PURPOSES,
    KeyProvider,
    KeyProviderError,
    LocalKeyStore,
    UnknownKeyId,
    parse_key_id,
    parse_master_key,
)

MASTER = bytes.fromhex("00112233445566778899aabbccddeeff")


def test_every_purpose_has_a_first_key_of_the_right_size(tmp_path):
    store = LocalKeyStore(MASTER, tmp_path / "ks.json")
    assert isinstance(store, KeyProvider)
    for purpose, (kind, size) in PURPOSES.items():
        if kind == "sm2":
            key_id, pem = store.public_key_pem(purpose)
            assert key_id == f"{purpose}:1" and pem.startswith(b"-----BEGIN PUBLIC KEY-----")
        else:
            key = store.symmetric_key(purpose)
            assert key.key_id == f"{purpose}:1" and len(key.material) == size
            assert key.material.hex() not in repr(key)


def test_the_file_holds_only_wrapped_keys_and_reopens_with_the_master_key(tmp_path):
    path = tmp_path / "ks.json"
    store = LocalKeyStore(MASTER, path)
    material = store.symmetric_key("field-enc").material
    text = path.read_text()
    assert material.hex() not in text and "PRIVATE KEY" not in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = LocalKeyStore(MASTER, path)
    assert again.symmetric_key("field-enc", "field-enc:1").material == material


def test_another_master_key_is_refused(tmp_path):
    path = tmp_path / "ks.json"
    LocalKeyStore(MASTER, path)
    with pytest.raises(KeyProviderError) as info:
        LocalKeyStore(bytes(16), path)
    assert info.value.code == "MASTER_KEY_MISMATCH"


def test_a_wrapped_key_moved_to_another_slot_does_not_unwrap(tmp_path):
    path = tmp_path / "ks.json"
    LocalKeyStore(MASTER, path)
    doc = json.loads(path.read_text())
    doc["keys"]["field-mac"]["versions"]["1"]["wrapped"] = doc["keys"]["audit-mac"]["versions"]["1"]["wrapped"]
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyProviderError) as info:
        LocalKeyStore(MASTER, path).symmetric_key("field-mac")
    assert info.value.code == "KEY_UNWRAP_FAILED"


def test_rotation_keeps_old_keys_and_another_process_sees_the_new_one(tmp_path):
    path = tmp_path / "ks.json"
    serving = LocalKeyStore(MASTER, path)
    old = serving.symmetric_key("field-mac")
    rotating = LocalKeyStore(MASTER, path)  # e.g. `permitflow keys rotate` in another process
    new_id = rotating.rotate("field-mac")
    assert new_id == "field-mac:2"
    # The serving process reads the new key id at once (unknown id → re-read) and keeps the old one.
    assert serving.symmetric_key("field-mac", new_id).material == rotating.symmetric_key("field-mac").material
    assert serving.symmetric_key("field-mac", old.key_id) == old
    assert serving.key_ids("field-mac") == ["field-mac:2", "field-mac:1"]
    assert [k.key_id for k in serving.list_keys() if k.purpose == "field-mac" and k.current] == ["field-mac:2"]


def test_unknown_and_malformed_key_ids(tmp_path):
    store = LocalKeyStore(MASTER)
    for bad in ("field-enc:9", "nope:1", "field-enc", "field-enc:0", "field-enc:x"):
        with pytest.raises(UnknownKeyId):
            store.symmetric_key("field-enc", bad) if bad.startswith("field-enc:") else parse_key_id(bad)
    with pytest.raises(KeyProviderError) as info:
        store.symmetric_key("field-enc", "field-mac:1")
    assert info.value.code == "WRONG_KEY_PURPOSE"
    with pytest.raises(KeyProviderError) as info:
        store.symmetric_key("mca")
    assert info.value.code == "WRONG_KEY_KIND"


def test_sm2_sign_verify_decrypt_and_rotation(tmp_path):
    store = LocalKeyStore(MASTER, tmp_path / "ks.json")
    key_id, signature = store.sign("mca", b"payload")
    assert store.verify(key_id, b"payload", signature) and not store.verify(key_id, b"payl0ad", signature)
    _, pem = store.public_key_pem("mca", key_id)
    assert SM2PublicKey.from_pem(pem).verify(b"payload", signature)  # anyone with the public key can check
    ciphertext = SM2PublicKey.from_pem(pem).encrypt(b"session key 16by")
    assert store.sm2_decrypt(key_id, ciphertext) == b"session key 16by"
    with pytest.raises(SM2DecryptError):
        store.sm2_decrypt(key_id, ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]))
    new_id = store.rotate("mca")
    assert store.sign("mca", b"x")[0] == new_id
    assert store.verify(key_id, b"payload", signature)  # old signatures still verify under their key id
    assert not store.verify(new_id, b"payload", signature)


def test_master_key_parsing():
    assert parse_master_key(MASTER.hex()) == MASTER
    for bad in ("", "00" * 15, "zz" * 16, "00" * 17):
        with pytest.raises(KeyProviderError):
            parse_master_key(bad)
