"""Registered MCA 3.0 caller apps: app id, name, SM2 public key, active flag, the channel they act as."""

from __future__ import annotations

import re

from sqlalchemy import select

from integrations.crypto import SM2PublicKey
from integrations.crypto.errors import CryptoError
from models import ChannelClient, db, utcnow
from models.mca import McaApp
from processes.channels import CHANNELS, register_client
from processes.errors import Conflict, NotFound, ValidationFailed
from processes.stepping import Actor
from processes.unit_of_work import transaction

APP_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{4,32}$")
DEFAULT_CHANNEL = "mca3"


def register_app(app_id: str, name: str, public_key_pem: str | bytes, channel_code: str = DEFAULT_CHANNEL) -> McaApp:
    """Register a caller app with its SM2 public key; its channel client is created when missing."""
    if not isinstance(app_id, str) or not APP_ID_PATTERN.match(app_id):
        raise ValidationFailed("MCA_APP_ID_INVALID", "应用编号应为4到32位字母、数字、下划线或连字符")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ValidationFailed("MCA_APP_NAME_INVALID", "应用名称不能为空且不超过100个字符")
    pem = public_key_pem.decode("ascii") if isinstance(public_key_pem, bytes) else public_key_pem
    try:
        key = SM2PublicKey.from_pem(pem)
    except (CryptoError, ValueError) as exc:
        raise ValidationFailed("MCA_PUBLIC_KEY_INVALID", "公钥不是有效的SM2公钥（PEM格式）") from exc
    if not db.session.execute(select(ChannelClient.id).where(ChannelClient.code == channel_code)).first():
        register_client(channel_code, CHANNELS.get(channel_code, channel_code), "channel")
    with transaction():
        if db.session.execute(select(McaApp.id).where(McaApp.app_id == app_id)).first():
            raise Conflict("MCA_APP_EXISTS", f"应用 {app_id} 已注册")
        app = McaApp(
            app_id=app_id,
            name=name.strip(),
            public_key_pem=key.to_pem().decode("ascii"),
            channel_code=channel_code,
            active=True,
        )
        db.session.add(app)
    return app


def set_active(app_id: str, active: bool) -> McaApp:
    """Enable or disable an app (disabled apps are refused with MCA_APP_DISABLED)."""
    with transaction():
        app = db.session.execute(select(McaApp).where(McaApp.app_id == app_id)).scalar_one_or_none()
        if app is None:
            raise NotFound("MCA_APP_UNKNOWN", f"应用 {app_id} 未注册")
        app.active, app.updated_at = active, utcnow()
    return app


def list_apps() -> list[McaApp]:
    """Every registered app, by app id."""
    return list(db.session.execute(select(McaApp).order_by(McaApp.app_id)).scalars())


def find_app(app_id: str) -> McaApp | None:
    """The app with this id (active or not), or None."""
    if not APP_ID_PATTERN.match(app_id or ""):
        return None
    return db.session.execute(select(McaApp).where(McaApp.app_id == app_id)).scalar_one_or_none()


def app_actor(app: McaApp, request_id: str | None) -> Actor | None:
    """The channel actor an app acts as, or None when its channel client no longer exists or is disabled."""
    client = db.session.execute(
        select(ChannelClient).where(ChannelClient.code == app.channel_code)
    ).scalar_one_or_none()
    if client is None or not client.active or client.kind != "channel":
        return None
    return Actor(
        kind="channel",
        name=f"mca:{app.app_id}",
        channel_id=client.id,
        request_id=request_id,
        extra={"channel_code": client.code, "mca_app": app.app_id},
    )
