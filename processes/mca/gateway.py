"""The MCA 3.0 envelope on the server: verify, decrypt, validate, dispatch, encrypt, sign, audit.

Checks run in this order and the first failure answers (each with its own code, all signed by our "mca" key,
none of them writing business data): headers → interface in header = path → app known and enabled →
timestamp window → signature → nonce unused → interface known → envelope → key id → decryption → JSON →
fields. Only then does the interface's service run. The nonce is recorded after the signature check, so
an unauthenticated party cannot burn an app's nonces.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from handlers.registry import HandlerError
from integrations.crypto import SM2PublicKey, sm3_hex, sm4_gcm_decrypt, sm4_gcm_encrypt
from integrations.crypto.errors import CryptoError
from integrations.errors import IntegrationError
from integrations.mca_v3_client import (
    BODY_NOT_READ,
    H_APP_ID,
    H_INTERFACE,
    H_KEY_ID,
    H_NONCE,
    H_REQUEST_SM3,
    H_SIGNATURE,
    H_TIMESTAMP,
    NONCE_PATTERN,
    OK,
    SESSION_KEY_SIZE,
    b64decode,
    b64encode,
    canonical_string,
    now_millis,
    reply_canonical_string,
)
from processes.errors import ProcessError
from processes.mca import apps, audit, catalog, fields
from processes.mca.nonces import nonce_store
from processes.platform import Platform

log = logging.getLogger(__name__)
INTERFACE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9.]{2,63}$")


class Refusal(Exception):
    """A call refused by the envelope checks: HTTP status, code, Chinese message."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


@dataclass
class McaRequest:
    """What the web layer hands over: the path's interface code, headers, raw body, caller address."""

    interface_code: str
    headers: Mapping[str, str]
    body: bytes
    remote_addr: str | None = None
    request_id: str | None = None
    too_large: bool = False  # the body was over API_MAX_BODY_BYTES and was not read


@dataclass
class McaReply:
    """What the web layer sends back unchanged."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _State:
    session_key: bytes | None = None
    data: dict[str, Any] = field(default_factory=dict)


def handle(platform: Platform, request: McaRequest) -> McaReply:
    """Answer one MCA 3.0 call; never raises for bad input, always audits."""
    started = time.perf_counter()
    if not INTERFACE_PATTERN.match(request.interface_code):
        # Never echoed into headers or the audit as given: it may be anything a URL can carry.
        request = replace(request, interface_code="")
    call = audit.CallRecord(
        app_id=request.headers.get(H_APP_ID, "")[:64],
        interface_code=request.interface_code[:64],
        request_id=request.request_id,
        nonce=request.headers.get(H_NONCE, "")[:64] or None,
        request_sm3=sm3_hex(request.body),
        remote_addr=(request.remote_addr or "")[:64] or None,
    )
    state = _State()
    status, code, message, details, result = 200, OK, "成功", {}, None
    try:
        result = _process(platform, request, call, state)
    except Refusal as exc:
        status, code, message, details = exc.status, exc.code, exc.message, exc.details
    except ProcessError as exc:
        status, code, message, details = exc.status, exc.code, exc.message, exc.details
    except HandlerError as exc:
        status, code, message, details = 422, exc.code, exc.message, exc.details
    except IntegrationError as exc:
        log.warning("MCA %s: external system failed: %s", request.interface_code, exc)
        status, code, message = 502, "MCA_UPSTREAM_UNAVAILABLE", "相关业务系统暂不可用，请稍后重试"
    except Exception:
        log.exception("MCA %s failed", request.interface_code)
        status, code, message = 500, "MCA_INTERNAL_ERROR", "系统内部错误，请联系管理员并提供请求编号"
    if call.business_key is None:
        call.business_key = _business_key(state.data, result)
    reply = _reply(platform, request, status, code, message, details, result, state.session_key)
    call.http_status, call.result_code = status, code
    call.response_sm3 = sm3_hex(reply.body)
    call.latency_ms = int((time.perf_counter() - started) * 1000)
    try:
        audit.record(call)
    except audit.AuditUnavailable as exc:  # no answer (and no data) leaves without its audit row; alerted
        return _reply(platform, request, exc.status, exc.code, exc.message, {}, None, None)
    return reply


def _process(platform: Platform, request: McaRequest, call: audit.CallRecord, state: _State) -> Any:
    settings = platform.settings
    h = request.headers
    missing = [name for name in (H_APP_ID, H_INTERFACE, H_TIMESTAMP, H_NONCE, H_KEY_ID, H_SIGNATURE) if not h.get(name)]
    if missing:
        raise Refusal(400, "MCA_HEADER_MISSING", "缺少报文头字段", {"headers": missing})
    app_id, interface_code, stamp, nonce, key_id = (
        h[H_APP_ID],
        h[H_INTERFACE],
        h[H_TIMESTAMP],
        h[H_NONCE],
        h[H_KEY_ID],
    )
    if not stamp.isdigit() or len(stamp) > 16 or not NONCE_PATTERN.match(nonce) or len(key_id) > 64:
        raise Refusal(400, "MCA_HEADER_INVALID", "报文头字段格式不正确（时间戳为毫秒数，随机串16至64位）")
    if request.too_large:
        limit = settings.API_MAX_BODY_BYTES
        raise Refusal(413, "MCA_BODY_TOO_LARGE", f"请求报文超过{limit}字节", {"maxBytes": limit})
    if not request.interface_code:
        raise Refusal(404, "MCA_INTERFACE_UNKNOWN", "接口编码不存在（字母开头，字母、数字和点，3至64位）")
    if interface_code != request.interface_code:
        raise Refusal(400, "MCA_INTERFACE_MISMATCH", "报文头中的接口编码与请求路径不一致")
    app = apps.find_app(app_id)
    if app is None:
        raise Refusal(401, "MCA_APP_UNKNOWN", "应用未注册")
    if not app.active:
        raise Refusal(403, "MCA_APP_DISABLED", "应用已停用")
    window = settings.MCA_TIMESTAMP_WINDOW_SECONDS
    if abs(int(stamp) / 1000 - time.time()) > window:
        raise Refusal(
            401, "MCA_TIMESTAMP_EXPIRED", f"请求时间戳超出允许范围（±{window}秒），请校准时钟", {"window": window}
        )
    try:
        signature = b64decode(h[H_SIGNATURE])
        valid = _app_key(app.public_key_pem).verify(
            canonical_string(app_id, interface_code, stamp, nonce, key_id, request.body), signature
        )
    except (ValueError, CryptoError):
        valid = False
    call.signature_result = "valid" if valid else "invalid"
    if not valid:
        raise Refusal(401, "MCA_SIGNATURE_INVALID", "签名验证失败")
    if not nonce_store(platform).add(f"{app_id}:{nonce}", 2 * window + 60):
        raise Refusal(409, "MCA_NONCE_REPLAYED", "请求随机串已使用过（疑似重放），请重新生成后再试")
    spec = catalog.find(interface_code)
    if spec is None:
        raise Refusal(404, "MCA_INTERFACE_UNKNOWN", "接口编码不存在", {"interface": interface_code[:64]})
    try:
        envelope = json.loads(request.body)
        encrypted_key = b64decode(envelope["encryptedKey"])
        cipher_text = b64decode(envelope["cipherText"])
    except (ValueError, KeyError, TypeError):
        raise Refusal(400, "MCA_ENVELOPE_MALFORMED", "报文体应为 {encryptedKey, cipherText}（Base64）") from None
    keys = platform.keys
    try:
        keys.public_key_pem("mca", key_id)
    except Exception:  # an unknown, malformed or other purpose's key id
        raise Refusal(400, "MCA_KEY_UNKNOWN", "密钥编号不存在，请获取平台当前公钥", {"keyId": key_id[:64]}) from None
    try:
        session_key = keys.sm2_decrypt(key_id, encrypted_key)
        if len(session_key) != SESSION_KEY_SIZE:
            raise ValueError("session key size")
        plain = sm4_gcm_decrypt(session_key, cipher_text)
    except Exception:  # one answer whatever failed: no oracle on which layer
        raise Refusal(400, "MCA_DECRYPT_FAILED", "报文解密失败（会话密钥或密文被篡改）") from None
    state.session_key = session_key
    try:
        data = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refusal(400, "MCA_JSON_MALFORMED", "解密后的业务报文不是合法的JSON") from None
    if not isinstance(data, dict):
        raise Refusal(400, "MCA_JSON_MALFORMED", "业务报文应为JSON对象")
    state.data = data
    actor = apps.app_actor(app, request.request_id)
    if actor is None:
        raise Refusal(403, "MCA_APP_CHANNEL_MISSING", "应用对应的接入渠道不存在或已停用")
    cleaned = fields.validate(data, spec.required, spec.optional)
    context = catalog.CallContext(platform, actor, app_id, interface_code, request.request_id)
    if spec.writes:  # no business effect without an audit row: write one before the service runs
        accepted = replace(call, http_status=0, result_code=audit.ACCEPTED, business_key=_business_key(data, None))
        audit.record(accepted)  # AuditUnavailable: refused, the service never runs
    return fields.camelize(spec.handler(context, cleaned))


@lru_cache(maxsize=256)
def _app_key(pem: str) -> SM2PublicKey:
    """Parsed app public keys (keyed by the PEM itself, so a re-keyed app is never checked with its old key)."""
    return SM2PublicKey.from_pem(pem)


def _business_key(data: dict[str, Any], result: Any) -> str | None:
    for source in (data, result if isinstance(result, dict) else {}):
        for name in ("businessKey", "permitNumber", "registrationNumber", "instanceId", "houseId", "waybillNo"):
            value = source.get(name)
            if isinstance(value, str) and value:
                return value[:120]
    instance = result.get("instance") if isinstance(result, dict) else None
    if isinstance(instance, dict) and isinstance(instance.get("businessKey"), str):
        return instance["businessKey"][:120]
    return None


def _reply(
    platform: Platform,
    request: McaRequest,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any],
    result: Any,
    session_key: bytes | None,
) -> McaReply:
    cipher_text = None
    if session_key is not None and code == OK:
        plain = json.dumps(result, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
        cipher_text = b64encode(sm4_gcm_encrypt(session_key, plain))
    body = json.dumps(
        {
            "code": code,
            "message": message,
            "requestId": request.request_id,
            "details": details,
            "cipherText": cipher_text,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    ).encode("utf-8")
    app_id = request.headers.get(H_APP_ID, "")[:64]
    nonce = request.headers.get(H_NONCE, "")[:64]
    stamp = now_millis()
    keys = platform.keys
    key_id, _ = keys.public_key_pem("mca")
    # The reply is bound to the request it answers: the request body's SM3 is part of what we sign.
    request_sm3 = BODY_NOT_READ if request.too_large else sm3_hex(request.body)
    interface = request.interface_code[:64]
    canonical = reply_canonical_string(app_id, interface, stamp, nonce, key_id, body, request_sm3)
    signed_by, signature = keys.sign("mca", canonical)
    if signed_by != key_id:  # rotated in between: sign again with the key id the headers name
        key_id = signed_by
        signed_by, signature = keys.sign(
            "mca", reply_canonical_string(app_id, interface, stamp, nonce, key_id, body, request_sm3)
        )
    headers = {
        H_APP_ID: app_id,
        H_INTERFACE: interface,
        H_TIMESTAMP: stamp,
        H_NONCE: nonce,
        H_KEY_ID: signed_by,
        H_SIGNATURE: b64encode(signature),
        H_REQUEST_SM3: request_sm3,
        "Content-Type": "application/json; charset=utf-8",
    }
    return McaReply(status, headers, body)
