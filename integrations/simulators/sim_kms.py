"""Government-cloud KMS simulator: data keys, SM2 signing/verification and decryption, rotation (A9).

Each bearer token is its own tenant with its own in-memory keystore, so tests using different tokens
never see each other's keys. It serves exactly what integrations.keys.KmsKeyProvider calls.
"""

from __future__ import annotations

import base64
import binascii
import threading
from typing import Any

from flask import current_app, request

from integrations.crypto import SM2DecryptError, SM2Error
from integrations.keys.base import PURPOSES, KeyProviderError, UnknownKeyId
from integrations.keys.local import LocalKeyStore
from integrations.simulators import common
from integrations.simulators.app import _guarded
from integrations.simulators.common import Invalid

blueprint = common.blueprint("sim_kms", "/kms")

_LOCK = threading.Lock()
_MASTER = b"sim-kms-master!!"  # the simulator's own wrapping key: test data only


def _store() -> LocalKeyStore:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    if not token:
        raise Invalid("UNAUTHORIZED", "a bearer token is required", 401)
    with _LOCK:
        stores: dict[str, LocalKeyStore] = current_app.extensions.setdefault("kms_tenants", {})
        store = stores.get(token)
        if store is None:
            store = stores[token] = LocalKeyStore(_MASTER)
        return store


def _purpose(body: dict[str, Any]) -> str:
    value = body.get("purpose")
    if value not in PURPOSES:
        raise Invalid("UNKNOWN_PURPOSE", "unknown key purpose", 422)
    return str(value)


def _bytes(body: dict[str, Any], name: str) -> bytes:
    value = body.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError(name)
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("INVALID_FIELD", f"{name} must be base64", 400) from None


def _keys(call):  # map the keystore's refusals onto the KMS's error answers
    try:
        return call()
    except UnknownKeyId:
        raise Invalid("UNKNOWN_KEY_ID", "unknown key id", 404) from None
    except KeyProviderError as exc:
        raise Invalid(exc.code, str(exc), 422) from None


@blueprint.post("/v1/data-keys/current")
def current_data_key() -> Any:
    """The current data key of a symmetric purpose: {key_id, material}."""
    body = common.json_body()
    purpose = _purpose(body)
    key = _keys(lambda: _store().symmetric_key(purpose))
    return _guarded("kms.data_key", {"key_id": key.key_id, "material": common.b64(key.material)})


@blueprint.post("/v1/data-keys/get")
def get_data_key() -> Any:
    """A named data key: {key_id, material}."""
    body = common.json_body()
    key_id = common.text(body, "key_id", max_len=64)
    store = _store()
    key = _keys(lambda: store.symmetric_key(key_id.rpartition(":")[0], key_id))
    return _guarded("kms.data_key", {"key_id": key.key_id, "material": common.b64(key.material)})


@blueprint.post("/v1/sign")
def sign() -> Any:
    """SM2-with-SM3 signature by the purpose's current key pair: {key_id, signature}."""
    body = common.json_body()
    purpose = _purpose(body)
    data = _bytes(body, "data")
    key_id, signature = _keys(lambda: _store().sign(purpose, data))
    return _guarded("kms.sign", {"key_id": key_id, "signature": common.b64(signature)})


@blueprint.post("/v1/verify")
def verify() -> Any:
    """{valid} for a signature over data by key pair key_id."""
    body = common.json_body()
    key_id = common.text(body, "key_id", max_len=64)
    data, signature = _bytes(body, "data"), _bytes(body, "signature")
    valid = _keys(lambda: _store().verify(key_id, data, signature))
    return _guarded("kms.verify", {"key_id": key_id, "valid": bool(valid)})


@blueprint.post("/v1/public-keys/get")
def public_key() -> Any:
    """{key_id, pem} of the purpose's current (or the named) key pair."""
    body = common.json_body()
    purpose = _purpose(body)
    key_id = body.get("key_id") or None
    found, pem = _keys(lambda: _store().public_key_pem(purpose, key_id))
    return _guarded("kms.public_key", {"key_id": found, "pem": pem.decode("ascii")})


@blueprint.post("/v1/decrypt")
def decrypt() -> Any:
    """SM2 decryption with the private key key_id: {plaintext}; 422 BAD_CIPHERTEXT when it fails its check."""
    body = common.json_body()
    key_id = common.text(body, "key_id", max_len=64)
    ciphertext = _bytes(body, "ciphertext")
    try:
        plain = _keys(lambda: _store().sm2_decrypt(key_id, ciphertext))
    except (SM2DecryptError, SM2Error):
        raise Invalid("BAD_CIPHERTEXT", "the ciphertext does not decrypt", 422) from None
    return _guarded("kms.decrypt", {"plaintext": common.b64(plain)})


@blueprint.post("/v1/keys/rotate")
def rotate() -> Any:
    """A new current key for a purpose: {key_id}."""
    body = common.json_body()
    purpose = _purpose(body)
    return _guarded("kms.rotate", {"key_id": _keys(lambda: _store().rotate(purpose))})


@blueprint.get("/v1/keys")
def list_keys() -> Any:
    """Every key version of this tenant (never the material)."""
    return _guarded("kms.list", {"keys": [vars(info) for info in _store().list_keys()]})
