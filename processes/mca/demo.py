"""A demo MCA 3.0 caller app for `make run`: its SM2 key pair on disk, registered, ready for `mca-client`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from integrations.crypto import SM2PrivateKey
from models import db, utcnow
from models.mca import McaApp
from processes.mca.apps import register_app
from processes.unit_of_work import transaction

DEMO_APP_ID = "mca-demo"


def _write_secret(path: Path, data: bytes) -> None:
    # Created 0600 from the start: the demo app's private key is a secret even on a laptop.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def ensure_demo_app(platform: Any) -> dict[str, str]:
    """Register (or re-key) the demo app; returns its app id and the key files' locations."""
    folder = Path(platform.settings.DATA_DIR).resolve() / "mca"
    folder.mkdir(parents=True, exist_ok=True)
    key_path, server_path = folder / "demo-app-key.pem", folder / "server-pub.pem"
    if key_path.exists():
        key = SM2PrivateKey.from_pem(key_path.read_bytes())
    else:
        key = SM2PrivateKey.generate()
        _write_secret(key_path, key.to_pem())
    public_pem = key.public_key().to_pem().decode("ascii")
    existing = db.session.execute(select(McaApp).where(McaApp.app_id == DEMO_APP_ID)).scalar_one_or_none()
    if existing is None:
        register_app(DEMO_APP_ID, "民政3.0一口受理（演示）", public_pem)
    elif existing.public_key_pem != public_pem or not existing.active:
        with transaction():
            row = db.session.get(McaApp, existing.id)
            row.public_key_pem, row.active, row.updated_at = public_pem, True, utcnow()
    key_id, server_pem = platform.keys.public_key_pem("mca")
    server_path.write_bytes(server_pem)
    return {"app_id": DEMO_APP_ID, "key": str(key_path), "server_pub": str(server_path), "server_key_id": key_id}
