"""MCA 3.0 envelope (B1) and a reference client for integrators; knows HTTP and crypto, no database.

Every call is `POST {base}/api/mca/v3/{interfaceCode}` with these headers and a JSON body:

  X-Mca-App-Id      caller app id (registered with its SM2 public key)
  X-Mca-Interface   interface code, equal to the path's last part
  X-Mca-Timestamp   milliseconds since the Unix epoch (UTC); refused outside the server's window
  X-Mca-Nonce       16-64 characters [A-Za-z0-9_-], never reused by the app
  X-Mca-Key-Id      id of the server's SM2 key the session key is encrypted to (GET /api/mca/v3/server-key)
  X-Mca-Signature   base64 DER SM2-with-SM3 signature (user ID 1234567812345678) of the canonical string
  body              {"encryptedKey": base64(SM2 C1C3C2 ASN.1 of a fresh 16-byte SM4 key),
                     "cipherText":   base64(SM4-GCM nonce(12) ‖ ciphertext ‖ tag(16) of the UTF-8 JSON request)}

Canonical string (UTF-8, lines joined by "\n", no trailing newline):
  appId \n interfaceCode \n timestamp \n nonce \n keyId \n hex(SM3(raw HTTP body bytes))

The response has the same headers (X-Mca-App-Id and X-Mca-Interface echo the request's, X-Mca-Nonce echoes
the request's nonce, X-Mca-Key-Id names the server's signing key, X-Mca-Timestamp is the server's clock) plus
X-Mca-Request-Sm3 (hex SM3 of the request body the server answered; "-" only for MCA_BODY_TOO_LARGE, when the
body was not read). Its signature covers the reply canonical string, which binds it to the request:
  appId \n interfaceCode \n timestamp \n nonce \n keyId \n hex(SM3(raw response body)) \n X-Mca-Request-Sm3
The raw body is {"code", "message", "requestId", "details", "cipherText"}; `cipherText` is the SM4-GCM
encrypted JSON result under the request's session key (null when the request could not be opened).

The client must pin the server's SM2 public key (obtained out of band, e.g. `permitflow mca server-key`);
fetching it from GET /server-key on first use is trust-on-first-use and only done when asked explicitly
(`trust_on_first_use=True`, CLI `--trust-on-first-use`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from integrations.crypto import SM2PrivateKey, SM2PublicKey, sm3_hex, sm4_gcm_decrypt, sm4_gcm_encrypt
from integrations.crypto.errors import CryptoError

PATH_PREFIX = "/api/mca/v3"
H_APP_ID = "X-Mca-App-Id"
H_INTERFACE = "X-Mca-Interface"
H_TIMESTAMP = "X-Mca-Timestamp"
H_NONCE = "X-Mca-Nonce"
H_KEY_ID = "X-Mca-Key-Id"
H_SIGNATURE = "X-Mca-Signature"
H_REQUEST_SM3 = "X-Mca-Request-Sm3"  # response only: the digest of the request body it answers
BODY_NOT_READ = "-"  # X-Mca-Request-Sm3 of a refusal whose body was too large to read
HEADERS = (H_APP_ID, H_INTERFACE, H_TIMESTAMP, H_NONCE, H_KEY_ID, H_SIGNATURE)
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SESSION_KEY_SIZE = 16
OK = "OK"


class McaClientError(Exception):
    """The server's answer could not be trusted or read (bad signature, stale, replayed, undecryptable)."""


def canonical_string(app_id: str, interface_code: str, timestamp: str, nonce: str, key_id: str, body: bytes) -> bytes:
    """The bytes an envelope's SM2 signature covers (both directions)."""
    return "\n".join([app_id, interface_code, timestamp, nonce, key_id, sm3_hex(body)]).encode("utf-8")


def reply_canonical_string(
    app_id: str, interface_code: str, timestamp: str, nonce: str, key_id: str, body: bytes, request_sm3: str
) -> bytes:
    """The bytes a response's SM2 signature covers: the request canonical form plus the request body's SM3."""
    return canonical_string(app_id, interface_code, timestamp, nonce, key_id, body) + b"\n" + request_sm3.encode()


def b64decode(value: Any) -> bytes:
    """Strict base64 (standard alphabet, padded); ValueError when it is not."""
    if not isinstance(value, str) or not value:
        raise ValueError("not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not valid base64") from exc


def b64encode(data: bytes) -> str:
    """Standard padded base64 text."""
    return base64.b64encode(data).decode("ascii")


def now_millis() -> str:
    """The current time as the envelope's timestamp."""
    return str(int(time.time() * 1000))


def new_nonce() -> str:
    """A fresh 32-character nonce from a cryptographically secure source."""
    return secrets.token_hex(16)


@dataclass
class PreparedCall:
    """An envelope ready to send; keeps the session key to open the answer."""

    interface_code: str
    headers: dict[str, str]
    body: bytes
    session_key: bytes
    nonce: str
    app_id: str = ""


@dataclass
class McaResponse:
    """A verified answer: HTTP status, result code, Chinese message, decrypted data."""

    status: int
    code: str
    message: str
    request_id: str | None
    data: Any = None
    details: dict[str, Any] = field(default_factory=dict)
    signed_by: str = ""

    @property
    def ok(self) -> bool:
        """True for a successful call."""
        return self.code == OK


def seal_request(
    app_id: str,
    interface_code: str,
    data: Any,
    app_key: SM2PrivateKey,
    server_key: SM2PublicKey,
    server_key_id: str,
    *,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> PreparedCall:
    """Encrypt `data` (JSON) under a fresh SM4 key, wrap that key for the server, sign the canonical string."""
    session_key = secrets.token_bytes(SESSION_KEY_SIZE)
    plain = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    envelope = {
        "encryptedKey": b64encode(server_key.encrypt(session_key)),
        "cipherText": b64encode(sm4_gcm_encrypt(session_key, plain)),
    }
    body = json.dumps(envelope, separators=(",", ":")).encode("ascii")
    timestamp = timestamp or now_millis()
    nonce = nonce or new_nonce()
    signature = app_key.sign(canonical_string(app_id, interface_code, timestamp, nonce, server_key_id, body))
    headers = {
        H_APP_ID: app_id,
        H_INTERFACE: interface_code,
        H_TIMESTAMP: timestamp,
        H_NONCE: nonce,
        H_KEY_ID: server_key_id,
        H_SIGNATURE: b64encode(signature),
        "Content-Type": "application/json",
    }
    return PreparedCall(interface_code, headers, body, session_key, nonce, app_id)


def open_response(
    prepared: PreparedCall,
    status: int,
    headers: Any,
    body: bytes,
    server_key: SM2PublicKey,
    *,
    window_seconds: float = 300.0,
) -> McaResponse:
    """Check the server's signature, that it answers this very request (app, interface, nonce, body digest) and
    its clock, then decrypt the result; McaClientError if not."""
    try:
        app_id, interface, stamp, nonce, key_id = (headers.get(h, "") for h in HEADERS[:5])
        request_sm3 = headers.get(H_REQUEST_SM3, "")
        signature = b64decode(headers.get(H_SIGNATURE, ""))
    except ValueError as exc:
        raise McaClientError(f"response signature header unreadable (HTTP {status})") from exc
    canonical = reply_canonical_string(app_id, interface, stamp, nonce, key_id, body, request_sm3)
    if not server_key.verify(canonical, signature):
        raise McaClientError(f"response signature invalid (HTTP {status})")
    if nonce != prepared.nonce or interface != prepared.interface_code or app_id != prepared.app_id:
        raise McaClientError("response is not for this request (app, nonce or interface differs)")
    if request_sm3 not in (sm3_hex(prepared.body), BODY_NOT_READ):
        raise McaClientError("response is not for this request (request digest differs)")
    if not stamp.isdigit() or abs(int(stamp) / 1000 - time.time()) > window_seconds:
        raise McaClientError("response timestamp outside the window")
    try:
        payload = json.loads(body)
        data = None
        if payload.get("cipherText"):
            data = json.loads(sm4_gcm_decrypt(prepared.session_key, b64decode(payload["cipherText"])))
    except (ValueError, CryptoError) as exc:
        raise McaClientError(f"response body unreadable: {exc}") from exc
    if request_sm3 == BODY_NOT_READ and payload.get("code") != "MCA_BODY_TOO_LARGE":
        raise McaClientError("response is not for this request (request digest missing)")
    return McaResponse(
        status=status,
        code=str(payload.get("code", "")),
        message=str(payload.get("message", "")),
        request_id=payload.get("requestId"),
        data=data,
        details=payload.get("details") or {},
        signed_by=key_id,
    )


class McaV3Client:
    """Calls any MCA 3.0 interface with the envelope: sign, encrypt, send, verify, decrypt."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_key: SM2PrivateKey | bytes | str,
        server_public_key: SM2PublicKey | bytes | str | None = None,
        *,
        server_key_id: str | None = None,
        timeout: float = 15.0,
        session: requests.Session | None = None,
        trust_on_first_use: bool = False,
    ) -> None:
        """`server_public_key` pins the server's key (required unless `trust_on_first_use`: then /server-key)."""
        if server_public_key is None and not trust_on_first_use:
            raise McaClientError("the server's SM2 public key must be pinned (or trust_on_first_use=True)")
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.app_key = app_key if isinstance(app_key, SM2PrivateKey) else SM2PrivateKey.from_pem(app_key)
        if server_public_key is not None and not isinstance(server_public_key, SM2PublicKey):
            server_public_key = SM2PublicKey.from_pem(server_public_key)
        self.server_key: SM2PublicKey | None = server_public_key
        self.server_key_id = server_key_id
        self.timeout = timeout
        self.http = session or requests.Session()

    def _server(self) -> tuple[SM2PublicKey, str]:
        if self.server_key is None or self.server_key_id is None:
            answer = self.http.get(f"{self.base_url}{PATH_PREFIX}/server-key", timeout=self.timeout)
            answer.raise_for_status()
            info = answer.json()
            fetched = SM2PublicKey.from_pem(info["publicKeyPem"])
            if self.server_key is not None and fetched != self.server_key:
                raise McaClientError("the server's current key differs from the pinned public key")
            self.server_key, self.server_key_id = fetched, info["keyId"]
        return self.server_key, self.server_key_id

    def prepare(self, interface_code: str, data: Any, **overrides: Any) -> PreparedCall:
        """Build (not send) the envelope; overrides: timestamp, nonce."""
        server_key, key_id = self._server()
        return seal_request(self.app_id, interface_code, data, self.app_key, server_key, key_id, **overrides)

    def send(self, prepared: PreparedCall) -> McaResponse:
        """Send a prepared envelope and open the verified answer."""
        server_key, _ = self._server()
        answer = self.http.post(
            f"{self.base_url}{PATH_PREFIX}/{prepared.interface_code}",
            data=prepared.body,
            headers=prepared.headers,
            timeout=self.timeout,
        )
        return open_response(prepared, answer.status_code, answer.headers, answer.content, server_key)

    def call(self, interface_code: str, data: dict[str, Any] | None = None) -> McaResponse:
        """Call an interface with `data` and return the verified, decrypted answer."""
        return self.send(self.prepare(interface_code, data or {}))
