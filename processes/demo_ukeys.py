"""Software-UKey key pairs of the demo users (S2): one SM2 private key file per user in the demo key folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from integrations.crypto import SM2PrivateKey


def demo_key_dir(settings: Any) -> Path:
    """DEMO_KEY_DIR, or DATA_DIR/demo-ukeys; created with owner-only access."""
    folder = Path(settings.DEMO_KEY_DIR or Path(settings.DATA_DIR) / "demo-ukeys").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def demo_ukey(folder: Path, username: str) -> str:
    """The public key PEM of a demo user's key, generating and writing the private key on first use."""
    path = folder / f"{username}.pem"
    if path.exists():
        key = SM2PrivateKey.from_pem(path.read_bytes())
    else:
        key = SM2PrivateKey.generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.to_pem())
    return key.public_key().to_pem().decode()
