"""Registered API clients (channels and ops systems) and their API keys."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from integrations.crypto import sm3_hex
from models import ChannelClient, db
from processes.errors import Conflict, Unauthorized
from processes.stepping import Actor
from processes.unit_of_work import transaction

CHANNELS = {
    "channel_line": "渠道专线",
    "mca3": "民政3.0一口受理",
    "suishenban": "随申办移动端",
    "terminal": "自助终端",
}
KINDS = ("channel", "ops")


def api_key_digest(api_key: str) -> str:
    """SM3 digest under which an API key is stored."""
    return sm3_hex("permitflow-api-key:" + api_key)


def register_client(
    code: str, name: str, kind: str = "channel", api_key: str | None = None
) -> tuple[ChannelClient, str]:
    """Register a client and return it with its API key (shown once; only a digest is stored)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    api_key = api_key or "pf_" + secrets.token_urlsafe(32)
    with transaction():
        if db.session.execute(select(ChannelClient.id).where(ChannelClient.code == code)).first():
            raise Conflict("CLIENT_EXISTS", f"接入方 {code} 已存在")
        client = ChannelClient(code=code, name=name, kind=kind, api_key_digest=api_key_digest(api_key))
        db.session.add(client)
    return client, api_key


def authenticate(api_key: str | None, request_id: str | None = None) -> Actor:
    """The actor behind an API key, or Unauthorized."""
    if not api_key or len(api_key) > 200:
        raise Unauthorized("API_KEY_MISSING", "缺少接入凭据（X-Api-Key）")
    client = db.session.execute(
        select(ChannelClient).where(ChannelClient.api_key_digest == api_key_digest(api_key))
    ).scalar_one_or_none()
    if client is None or not client.active:
        raise Unauthorized("API_KEY_INVALID", "接入凭据无效或已停用")
    return Actor(
        kind="channel" if client.kind == "channel" else "ops",
        name=f"{client.kind}:{client.code}",
        channel_id=client.id if client.kind == "channel" else None,
        request_id=request_id,
        extra={"channel_code": client.code},
    )
