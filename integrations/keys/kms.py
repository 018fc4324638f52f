"""HTTP client of the government cloud's key-management and signing/verification services.

Data keys come from the KMS once per key id and are then cached in memory (field protection needs them
for every row); the "current" key id of a purpose is re-asked every `current_ttl` seconds so a rotation
at the KMS reaches every process. Private keys never leave the KMS: signing and SM2 decryption are calls;
verification uses the public key, fetched once per key id.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import requests

from integrations.crypto import SM2DecryptError, SM2PublicKey
from integrations.errors import IntegrationError, PermanentError
from integrations.http import HttpSettings, JsonHttpClient, discard_record
from integrations.keys.base import (
    PURPOSES,
    KeyInfo,
    KeyProviderError,
    SymmetricKey,
    UnknownKeyId,
    check_purpose,
    parse_key_id,
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError as exc:
        raise KeyProviderError("KMS_MALFORMED", f"the KMS sent a malformed {what}") from exc


class KmsKeyProvider(JsonHttpClient):
    """A KeyManager backed by the KMS HTTP API (served by the simulators at /kms in development)."""

    system = "kms"
    name = "kms"

    def __init__(
        self,
        base_url: str,
        token: str,
        settings: HttpSettings | None = None,
        current_ttl: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(base_url, settings, discard_record, session)
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.current_ttl = current_ttl
        self._lock = threading.Lock()
        self._material: dict[str, bytes] = {}
        self._current: dict[str, tuple[str, float]] = {}
        self._public: dict[str, SM2PublicKey] = {}
        self._ids: dict[str, tuple[list[str], float]] = {}

    def _ask(self, operation: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return self.call(operation, method, path, body=body)
        except PermanentError as exc:
            if exc.code == "UNKNOWN_KEY_ID":
                raise UnknownKeyId(str((body or {}).get("key_id") or path.rsplit("/", 1)[-1])) from exc
            raise KeyProviderError(exc.code, f"KMS refused {operation}: {exc}") from exc
        except IntegrationError as exc:
            raise KeyProviderError("KMS_UNAVAILABLE", f"KMS {operation} failed: {exc}") from exc

    def symmetric_key(self, purpose: str, key_id: str | None = None) -> SymmetricKey:
        """The current (key_id None) or named data key, unwrapped by the KMS and cached here."""
        check_purpose(purpose, "symmetric")
        if key_id is None:
            key_id = self._current_id(purpose)
        elif parse_key_id(key_id)[0] != purpose:
            raise KeyProviderError("WRONG_KEY_PURPOSE", f"key {key_id!r} is not a {purpose!r} key")
        material = self._material.get(key_id)
        if material is None:
            answer = self._ask("data_key", "POST", "/v1/data-keys/get", {"key_id": key_id})
            material = _unb64(answer.get("material"), "data key")
            if len(material) != PURPOSES[purpose][1]:
                raise KeyProviderError("KMS_MALFORMED", f"the KMS sent a data key of the wrong size for {key_id}")
            with self._lock:
                self._material[key_id] = material
        return SymmetricKey(key_id, material)

    def sign(self, purpose: str, data: bytes) -> tuple[str, bytes]:
        """(key_id, DER signature) made by the KMS with the purpose's current key pair."""
        check_purpose(purpose, "sm2")
        answer = self._ask("sign", "POST", "/v1/sign", {"purpose": purpose, "data": _b64(data)})
        return str(answer.get("key_id")), _unb64(answer.get("signature"), "signature")

    def verify(self, key_id: str, data: bytes, signature: bytes) -> bool:
        """Verify locally with the key pair's public key (fetched from the KMS once)."""
        purpose, _ = parse_key_id(key_id)
        return self._public_key(purpose, key_id).verify(data, signature)

    def public_key_pem(self, purpose: str, key_id: str | None = None) -> tuple[str, bytes]:
        """(key_id, PEM) of the current or named key pair."""
        check_purpose(purpose, "sm2")
        if key_id is None:
            answer = self._ask("public_key", "POST", "/v1/public-keys/get", {"purpose": purpose})
            key_id = str(answer.get("key_id"))
            self._public.setdefault(key_id, SM2PublicKey.from_pem(str(answer.get("pem"))))
        return key_id, self._public_key(purpose, key_id).to_pem()

    def sm2_decrypt(self, key_id: str, ciphertext: bytes) -> bytes:
        """Decrypt at the KMS; SM2DecryptError when the KMS finds the ciphertext bad."""
        check_purpose(parse_key_id(key_id)[0], "sm2")
        try:
            answer = self._ask("decrypt", "POST", "/v1/decrypt", {"key_id": key_id, "ciphertext": _b64(ciphertext)})
        except KeyProviderError as exc:
            if exc.code == "BAD_CIPHERTEXT":
                raise SM2DecryptError("the KMS could not decrypt the SM2 ciphertext") from exc
            raise
        return _unb64(answer.get("plaintext"), "plaintext")

    def rotate(self, purpose: str) -> str:
        """Ask the KMS for a new current key of a purpose."""
        check_purpose(purpose)
        answer = self._ask("rotate", "POST", "/v1/keys/rotate", {"purpose": purpose})
        key_id = str(answer.get("key_id"))
        with self._lock:
            self._current[purpose] = (key_id, time.monotonic())
            self._ids.pop(purpose, None)
        return key_id

    def list_keys(self) -> list[KeyInfo]:
        """Every key version the KMS holds for us."""
        answer = self._ask("list", "GET", "/v1/keys")
        return [
            KeyInfo(
                key_id=str(item["key_id"]),
                purpose=str(item["purpose"]),
                kind=str(item["kind"]),
                current=bool(item["current"]),
                created_at=str(item["created_at"]),
            )
            for item in answer.get("keys", [])
        ]

    def key_ids(self, purpose: str) -> list[str]:
        """Known key ids of a purpose, current first (cached for `current_ttl`: every search asks for them)."""
        check_purpose(purpose)
        now = time.monotonic()
        cached = self._ids.get(purpose)
        if cached is not None and now - cached[1] < self.current_ttl:
            return cached[0]
        items = [k for k in self.list_keys() if k.purpose == purpose]
        items.sort(key=lambda k: (not k.current, -parse_key_id(k.key_id)[1]))
        ids = [k.key_id for k in items]
        with self._lock:
            self._ids[purpose] = (ids, now)
        return ids

    def _current_id(self, purpose: str) -> str:
        cached = self._current.get(purpose)
        now = time.monotonic()
        if cached is not None and now - cached[1] < self.current_ttl:
            return cached[0]
        answer = self._ask("current", "POST", "/v1/data-keys/current", {"purpose": purpose})
        key_id = str(answer.get("key_id"))
        material = _unb64(answer.get("material"), "data key")
        with self._lock:
            self._material.setdefault(key_id, material)
            self._current[purpose] = (key_id, now)
        return key_id

    def _public_key(self, purpose: str, key_id: str) -> SM2PublicKey:
        key = self._public.get(key_id)
        if key is None:
            answer = self._ask("public_key", "POST", "/v1/public-keys/get", {"purpose": purpose, "key_id": key_id})
            key = SM2PublicKey.from_pem(str(answer.get("pem")))
            with self._lock:
                self._public[key_id] = key
        return key
