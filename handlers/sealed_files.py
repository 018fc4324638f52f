"""Files at rest SM4-GCM-encrypted (review finding 5): photos, uploaded files and query exports on disk.

A sealed file is `MAGIC ‖ key id ‖ "\\n" ‖ nonce ‖ SM4-GCM(content) ‖ tag`, under the current field-encryption
key (the key id travels in the header, so files written before a rotation stay readable), with the file's
storage key (its digest or export id) as associated data: a file renamed onto another key does not open.
No Flask, no database: the key provider is passed in by the caller (the platform's `keys`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from integrations.crypto import SM4DecryptError, sm4_gcm_decrypt, sm4_gcm_encrypt
from integrations.keys import KeyProviderError

MAGIC = b"PFSEALED1\n"
PURPOSE = "field-enc"  # the SM4 data key of personal data at rest
MAX_KEY_ID = 64


class SealedFileError(Exception):
    """A stored file that cannot be opened; `code`: FILE_TAMPERED, FILE_KEY_UNKNOWN or FILE_NOT_SEALED."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _associated_data(storage_key: str) -> bytes:
    return b"pf-file\x1f" + storage_key.encode("utf-8")


def is_sealed(blob: bytes) -> bool:
    """True when the bytes are a sealed file (as opposed to a file written before encryption)."""
    return blob.startswith(MAGIC)


def seal_bytes(content: bytes, storage_key: str, keys: Any) -> bytes:
    """The sealed form of content stored under storage_key, with the provider's current key."""
    key = keys.symmetric_key(PURPOSE)
    body = sm4_gcm_encrypt(key.material, content, _associated_data(storage_key))
    return MAGIC + key.key_id.encode("ascii") + b"\n" + body


def open_bytes(blob: bytes, storage_key: str, keys: Any) -> bytes:
    """The content of a sealed file stored under storage_key; SealedFileError when it does not check out."""
    if not is_sealed(blob):
        raise SealedFileError("FILE_NOT_SEALED", "file is not encrypted")
    key_id, sep, body = blob[len(MAGIC) :].partition(b"\n")
    if not sep or len(key_id) > MAX_KEY_ID:
        raise SealedFileError("FILE_TAMPERED", "file header is damaged")
    try:
        key = keys.symmetric_key(PURPOSE, key_id.decode("ascii"))
    except UnicodeDecodeError as exc:
        raise SealedFileError("FILE_TAMPERED", "file header is damaged") from exc
    except KeyProviderError as exc:  # unknown, withdrawn or wrong-purpose key id
        raise SealedFileError("FILE_KEY_UNKNOWN", f"file key {key_id!r} is not available") from exc
    try:
        return sm4_gcm_decrypt(key.material, body, _associated_data(storage_key))
    except SM4DecryptError as exc:
        raise SealedFileError("FILE_TAMPERED", "file does not decrypt: tampered, or moved to another key") from exc


def write_sealed(path: Path, content: bytes, storage_key: str, keys: Any) -> None:
    """Write content sealed to path atomically (a reader never sees half a file); owner-only permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    with open(partial, "wb", opener=_private) as handle:
        handle.write(seal_bytes(content, storage_key, keys))
    partial.replace(path)


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)
