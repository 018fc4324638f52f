"""Security gateway (S3): in gateway mode only requests the gateway signed, from its addresses, are served.

The gateway (SSL VPN / security gateway with client certificates) forwards the user it authenticated and
their certificate's SM2 public key, and signs method, path, timestamp, user and certificate with HMAC-SM3
under a key shared through the environment. Health probes (/healthz, /readyz) stay reachable directly.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from flask import g, jsonify, render_template, request

from integrations.crypto import hmac_sm3
from processes import audit

H_TIMESTAMP = "X-Gateway-Timestamp"
H_USER = "X-Gateway-User"
H_CERT = "X-Gateway-Cert"  # URL-encoded PEM of the client SM2 certificate (or its public key)
H_SIGNATURE = "X-Gateway-Signature"
EXEMPT = ("/healthz", "/readyz")


@dataclass(frozen=True)
class GatewayIdentity:
    """Who the gateway authenticated for this request."""

    username: str
    cert_pem: str


def gateway_signature(key: str, method: str, path: str, timestamp: str, user: str, cert: str) -> str:
    """The HMAC-SM3 hex signature the gateway sends (cert as sent, i.e. URL-encoded)."""
    message = "\n".join((method.upper(), path, timestamp, user, cert))
    return hmac_sm3(key.encode("utf-8"), message)


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
    if not signature or not timestamp:
        return "GATEWAY_SIGNATURE_MISSING", "缺少安全网关签名"
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError:
        return "GATEWAY_TIMESTAMP", "安全网关时间戳格式错误"
    expected = gateway_signature(settings.GATEWAY_SHARED_KEY, request.method, request.path, timestamp, user, cert)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        return "GATEWAY_SIGNATURE_INVALID", "安全网关签名无效"
    if skew > settings.GATEWAY_MAX_SKEW_SECONDS:
        return "GATEWAY_TIMESTAMP", "安全网关签名已过期"
    return GatewayIdentity(username=user.strip().lower(), cert_pem=unquote(cert))


def enforce(settings: Any) -> Any:
    """before_request hook: refuse anything that did not come through the gateway (a Chinese page or JSON)."""
    if not settings.GATEWAY_REQUIRED or request.path in EXEMPT:
        return None
    outcome = check_request(settings)
    if isinstance(outcome, GatewayIdentity):
        g.gateway = outcome
        return None
    code, reason = outcome
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
