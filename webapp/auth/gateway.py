"""Security gateway (S3): in gateway mode only requests the gateway signed, from its addresses, are served.

The gateway (SSL VPN / security gateway with client certificates) forwards the user it authenticated, their
certificate's SM2 public key and the client's IP address, and signs method, full path with query string, SM3 of
the body, timestamp, a one-time nonce, user, certificate and client IP with HMAC-SM3 under a key shared through
the environment. A nonce is accepted once (replay cache). Health probes (/healthz, /readyz) stay reachable.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from flask import g, jsonify, render_template, request

from integrations.crypto import hmac_sm3, sm3_hex
from processes import audit
from processes.auth_gateway import NonceStoreDown, first_use
from processes.platform import get_platform

H_TIMESTAMP = "X-Gateway-Timestamp"
H_USER = "X-Gateway-User"
H_CERT = "X-Gateway-Cert"  # URL-encoded PEM of the client SM2 certificate (or its public key)
H_SIGNATURE = "X-Gateway-Signature"
H_NONCE = "X-Gateway-Nonce"  # 16-128 characters, unique per request
H_CLIENT_IP = "X-Gateway-Client-IP"  # the address the gateway saw the client connect from
EXEMPT = ("/healthz", "/readyz")


@dataclass(frozen=True)
class GatewayIdentity:
    """Who the gateway authenticated for this request."""

    username: str
    cert_pem: str
    client_ip: str | None = None


def gateway_signature(
    key: str,
    method: str,
    full_path: str,
    body: bytes,
    timestamp: str,
    nonce: str,
    user: str,
    cert: str,
    client_ip: str,
) -> str:
    """The HMAC-SM3 hex signature the gateway sends (cert as sent, i.e. URL-encoded; full_path with ?query)."""
    message = "\n".join((method.upper(), full_path, sm3_hex(body), timestamp, nonce, user, cert, client_ip))
    return hmac_sm3(key.encode("utf-8"), message)


def _full_path() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + ("?" + query if query else "")


def _from_gateway(settings: Any, address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in settings.gateway_networks)


def check_request(settings: Any) -> tuple[str, str] | GatewayIdentity:
    """The gateway identity of this request, or (code, reason) when it must be refused."""
    if not _from_gateway(settings, request.remote_addr):
        return "GATEWAY_SOURCE", "请求不是来自安全网关"
    timestamp = request.headers.get(H_TIMESTAMP, "")
    user = request.headers.get(H_USER, "")
    cert = request.headers.get(H_CERT, "")
    signature = request.headers.get(H_SIGNATURE, "")
    nonce = request.headers.get(H_NONCE, "")
    client_ip = request.headers.get(H_CLIENT_IP, "")
    if not signature or not timestamp or not nonce:
        return "GATEWAY_SIGNATURE_MISSING", "缺少安全网关签名"
    if not (16 <= len(nonce) <= 128 and nonce.isascii() and nonce.isprintable()):
        return "GATEWAY_NONCE", "安全网关请求随机数格式错误"
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError:
        return "GATEWAY_TIMESTAMP", "安全网关时间戳格式错误"
    expected = gateway_signature(
        settings.GATEWAY_SHARED_KEY,
        request.method,
        _full_path(),
        request.get_data(cache=True),
        timestamp,
        nonce,
        user,
        cert,
        client_ip,
    )
    if not hmac.compare_digest(expected, signature.strip().lower()):
        return "GATEWAY_SIGNATURE_INVALID", "安全网关签名无效"
    if skew > settings.GATEWAY_MAX_SKEW_SECONDS:
        return "GATEWAY_TIMESTAMP", "安全网关签名已过期"
    try:
        ip = str(ipaddress.ip_address(client_ip)) if client_ip else None
    except ValueError:
        return "GATEWAY_CLIENT_IP", "安全网关转发的客户端地址格式错误"
    try:
        # Kept a little longer than a timestamp stays acceptable, either way.
        fresh = first_use(get_platform(), nonce, 2 * settings.GATEWAY_MAX_SKEW_SECONDS + 5)
    except NonceStoreDown:
        return "GATEWAY_NONCE_STORE", "防重放服务暂不可用，请稍后重试"
    if not fresh:
        return "GATEWAY_REPLAY", "安全网关请求重复（疑似重放）"
    return GatewayIdentity(username=user.strip().lower(), cert_pem=unquote(cert), client_ip=ip)


def enforce(settings: Any) -> Any:
    """before_request hook: refuse anything that did not come through the gateway (a Chinese page or JSON)."""
    if not settings.GATEWAY_REQUIRED or request.path in EXEMPT:
        return None
    outcome = check_request(settings)
    if isinstance(outcome, GatewayIdentity):
        g.gateway = outcome
        return None
    code, reason = outcome
    g.denial_audited = True  # this row is the refusal's audit record
    audit.log(
        "gateway.refused",
        result="denied",
        object_type="path",
        object_id=request.path,
        details={"code": code, "remote_addr": request.remote_addr},
    )
    message = "请通过安全网关访问本系统：直接访问已被拒绝"
    if request.path.startswith("/api/"):
        response = jsonify({"code": code, "message": message, "details": {"reason": reason}})
        response.status_code = 403
        return response
    return render_template("auth/gateway_refused.html", code=code, reason=reason), 403
