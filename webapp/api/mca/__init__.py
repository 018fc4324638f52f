"""MCA 3.0 interface (B1) for the civil-affairs platform: one signed, SM4-encrypted envelope for every call."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from processes.mca import gateway
from processes.platform import get_platform

api_mca = Blueprint("api_mca", __name__, url_prefix="/api/mca/v3")


@api_mca.post("/<path:interface_code>")
def call(interface_code: str) -> Response:
    """Any interface: verify, decrypt, run the mapped service, answer encrypted and signed, audit."""
    too_large = False
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        body, too_large = b"", True  # refused by the gateway (signed, audited) instead of a bare 413
    reply = gateway.handle(
        get_platform(),
        gateway.McaRequest(
            interface_code=interface_code,
            headers=request.headers,
            body=body,
            remote_addr=request.remote_addr,
            request_id=g.get("request_id"),
            too_large=too_large,
        ),
    )
    return Response(reply.body, status=reply.status, headers=reply.headers)


@api_mca.get("/server-key")
def server_key() -> Any:
    """Our current SM2 public key for the envelope (callers pin it; the key id goes in X-Mca-Key-Id)."""
    key_id, pem = get_platform().keys.public_key_pem("mca")
    return {"keyId": key_id, "publicKeyPem": pem.decode("ascii"), "algorithm": "SM2", "userId": "1234567812345678"}


@api_mca.get("/openapi.json")
def openapi() -> Any:
    """The MCA 3.0 OpenAPI document (Chinese descriptions, envelope, every interface and field)."""
    from webapp.api.mca.openapi import document

    return document()
