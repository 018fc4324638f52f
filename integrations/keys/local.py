"""Local keystore for development and tests: data keys in a JSON file, each wrapped by a master key (SM4-GCM).

The master key never touches the file; it comes from the environment (PERMITFLOW_MASTER_KEY) or, in the
embedded development setup only, from a generated file next to the database. Every key version stays in
the file after a rotation so that data protected under an older key id can still be read; a process that
meets a key id it does not know re-reads the file, so a rotation by `permitflow keys rotate` in another
process is picked up without a restart.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.crypto import SM2PrivateKey, SM2PublicKey, SM4DecryptError, sm4_gcm_decrypt, sm4_gcm_encrypt
from integrations.keys.base import (
    PURPOSES,
    KeyInfo,
    KeyProviderError,
    SymmetricKey,
    UnknownKeyId,
    check_purpose,
    make_key_id,
    parse_key_id,
)

FORMAT = 1
_CHECK = b"permitflow-keystore-check"
REFRESH_SECONDS = 2.0  # how stale a process's idea of the "current" key may be after another process rotates


class LocalKeyStore:
    """A KeyManager over a JSON file (or memory when `path` is None), keys wrapped by `master_key`."""

    name = "local"

    def __init__(self, master_key: bytes, path: str | Path | None = None) -> None:
        if len(master_key) != 16:
            raise KeyProviderError("BAD_MASTER_KEY", "the master key is 16 bytes (32 hex characters)")
        self._master = bytes(master_key)
        self.path = Path(path) if path else None
        self._lock = threading.RLock()
        self._doc: dict[str, Any] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked_at = 0.0
        self._plain: dict[str, bytes] = {}  # key id → unwrapped symmetric material or private-key PEM
        self._sm2: dict[str, SM2PrivateKey] = {}
        self._public: dict[str, SM2PublicKey] = {}
        with self._lock:
            if self.path is not None and self.path.exists():
                self._load()
            else:
                self._doc = {"format": FORMAT, "check": self._wrap(_CHECK, "check"), "keys": {}}
                with self._file_lock():
                    if self.path is not None and self.path.exists():
                        self._load()  # another process created it first
                    else:
                        for purpose in PURPOSES:
                            self._add_version(purpose)
                        self._save()

    # --- the KeyProvider interface ---------------------------------------------------------------------

    def symmetric_key(self, purpose: str, key_id: str | None = None) -> SymmetricKey:
        """The current (key_id None) or named key of a symmetric purpose."""
        check_purpose(purpose, "symmetric")
        if key_id is None:
            key_id = self._current_id(purpose)
        elif parse_key_id(key_id)[0] != purpose:
            raise KeyProviderError("WRONG_KEY_PURPOSE", f"key {key_id!r} is not a {purpose!r} key")
        material = self._plain.get(key_id)
        if material is None:
            material = self._unwrap_id(key_id)
        return SymmetricKey(key_id, material)

    def sign(self, purpose: str, data: bytes) -> tuple[str, bytes]:
        """(key_id, DER signature) with the purpose's current SM2 key."""
        check_purpose(purpose, "sm2")
        key_id = self._current_id(purpose)
        return key_id, self._private(key_id).sign(data)

    def verify(self, key_id: str, data: bytes, signature: bytes) -> bool:
        """True when `signature` over `data` verifies under key pair `key_id`."""
        return self._public_key(key_id).verify(data, signature)

    def public_key_pem(self, purpose: str, key_id: str | None = None) -> tuple[str, bytes]:
        """(key_id, PEM) of the current or named key pair of an SM2 purpose."""
        check_purpose(purpose, "sm2")
        if key_id is None:
            key_id = self._current_id(purpose)
        elif parse_key_id(key_id)[0] != purpose:
            raise KeyProviderError("WRONG_KEY_PURPOSE", f"key {key_id!r} is not a {purpose!r} key")
        return key_id, self._public_key(key_id).to_pem()

    def sm2_decrypt(self, key_id: str, ciphertext: bytes) -> bytes:
        """Decrypt a C1C3C2 ciphertext with private key `key_id` (SM2DecryptError when tampered)."""
        return self._private(key_id).decrypt(ciphertext)

    # --- management ------------------------------------------------------------------------------------

    def rotate(self, purpose: str) -> str:
        """Add a new current version of a purpose's key; returns its key id."""
        check_purpose(purpose)
        with self._lock, self._file_lock():
            if self.path is not None and self.path.exists():
                self._load()
            key_id = self._add_version(purpose)
            self._save()
            return key_id

    def list_keys(self) -> list[KeyInfo]:
        """Every key version of every purpose."""
        self._refresh(force=True)
        out = []
        for purpose, entry in sorted(self._doc["keys"].items()):
            for version, item in sorted(entry["versions"].items(), key=lambda kv: int(kv[0])):
                out.append(
                    KeyInfo(
                        key_id=make_key_id(purpose, int(version)),
                        purpose=purpose,
                        kind=PURPOSES.get(purpose, ("?", 0))[0],
                        current=int(version) == entry["current"],
                        created_at=item["created_at"],
                    )
                )
        return out

    def key_ids(self, purpose: str) -> list[str]:
        """Known key ids of a purpose, current first, then newest to oldest."""
        check_purpose(purpose)
        self._refresh()
        entry = self._entry(purpose)
        versions = sorted((int(v) for v in entry["versions"]), reverse=True)
        versions.remove(entry["current"])
        return [make_key_id(purpose, v) for v in [entry["current"], *versions]]

    # --- internals -------------------------------------------------------------------------------------

    def _entry(self, purpose: str) -> dict[str, Any]:
        entry = self._doc["keys"].get(purpose)
        if entry is None:  # a purpose added to the code after this keystore was made
            with self._lock, self._file_lock():
                if self.path is not None and self.path.exists():
                    self._load()
                if purpose not in self._doc["keys"]:
                    self._add_version(purpose)
                    self._save()
            entry = self._doc["keys"][purpose]
        return entry

    def _current_id(self, purpose: str) -> str:
        self._refresh()
        return make_key_id(purpose, self._entry(purpose)["current"])

    def _item(self, key_id: str) -> dict[str, Any]:
        purpose, version = parse_key_id(key_id)
        for attempt in range(2):
            item = self._doc["keys"].get(purpose, {}).get("versions", {}).get(str(version))
            if item is not None:
                return item
            if attempt == 0:
                self._refresh(force=True)  # perhaps rotated by another process since we loaded
        raise UnknownKeyId(key_id)

    def _unwrap_id(self, key_id: str) -> bytes:
        with self._lock:
            material = self._plain.get(key_id)
            if material is None:
                material = self._unwrap(self._item(key_id)["wrapped"], key_id)
                self._plain[key_id] = material
            return material

    def _private(self, key_id: str) -> SM2PrivateKey:
        key = self._sm2.get(key_id)
        if key is None:
            check_purpose(parse_key_id(key_id)[0], "sm2")
            key = SM2PrivateKey.from_pem(self._unwrap_id(key_id))
            self._sm2[key_id] = key
        return key

    def _public_key(self, key_id: str) -> SM2PublicKey:
        key = self._public.get(key_id)
        if key is None:
            check_purpose(parse_key_id(key_id)[0], "sm2")
            key = SM2PublicKey.from_pem(self._item(key_id)["public_pem"])
            self._public[key_id] = key
        return key

    def _add_version(self, purpose: str) -> str:
        kind, size = PURPOSES[purpose]
        entry = self._doc["keys"].setdefault(purpose, {"current": 0, "versions": {}})
        version = max((int(v) for v in entry["versions"]), default=0) + 1
        key_id = make_key_id(purpose, version)
        item: dict[str, Any] = {"created_at": datetime.now(UTC).isoformat(timespec="seconds")}
        if kind == "sm2":
            private = SM2PrivateKey.generate()
            material = private.to_pem()
            item["public_pem"] = private.public_key().to_pem().decode("ascii")
        else:
            material = secrets.token_bytes(size)
        item["wrapped"] = self._wrap(material, key_id)
        entry["versions"][str(version)] = item
        entry["current"] = version
        self._plain[key_id] = material
        return key_id

    def _wrap(self, material: bytes, label: str) -> str:
        # The key id is the AAD: a wrapped key moved to another id's slot fails to unwrap.
        return base64.b64encode(sm4_gcm_encrypt(self._master, material, label.encode())).decode("ascii")

    def _unwrap(self, wrapped: str, label: str) -> bytes:
        try:
            return sm4_gcm_decrypt(self._master, base64.b64decode(wrapped), label.encode())
        except (SM4DecryptError, ValueError) as exc:
            raise KeyProviderError("KEY_UNWRAP_FAILED", f"key {label!r} does not unwrap with this master key") from exc

    def _load(self) -> None:
        assert self.path is not None
        stat = self.path.stat()
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise KeyProviderError("KEYSTORE_CORRUPT", f"keystore {self.path} is not valid JSON") from exc
        if doc.get("format") != FORMAT:
            raise KeyProviderError("KEYSTORE_FORMAT", f"keystore {self.path} has an unknown format")
        try:
            self._unwrap(doc["check"], "check")
        except KeyProviderError:
            raise KeyProviderError(
                "MASTER_KEY_MISMATCH", f"keystore {self.path} was made with another master key"
            ) from None
        self._doc = doc
        self._stamp = (stat.st_mtime_ns, stat.st_size)
        self._checked_at = time.monotonic()

    def _refresh(self, force: bool = False) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now - self._checked_at < REFRESH_SECONDS:
            return
        with self._lock:
            self._checked_at = now
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                return
            if (stat.st_mtime_ns, stat.st_size) != self._stamp:
                self._load()

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self._doc, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)  # readers see the old file or the new one, never half of one
        stat = self.path.stat()
        self._stamp = (stat.st_mtime_ns, stat.st_size)
        self._checked_at = time.monotonic()

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # two processes rotating at once must not lose a version
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def parse_master_key(value: str) -> bytes:
    """The 16-byte master key from its 32-hex-character form; KeyProviderError when malformed."""
    try:
        key = bytes.fromhex(value.strip())
    except ValueError:
        key = b""
    if len(key) != 16:
        raise KeyProviderError("BAD_MASTER_KEY", "the master key must be 32 hex characters (16 bytes)")
    return key
