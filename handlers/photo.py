"""Photo handlers (A8): the social-security-card photo, uploaded retakes, and the automatic review.

Binaries never enter workflow data: they go to a content-addressed file store (keyed by SM3) under the
platform's data folder, SM4-GCM-encrypted (handlers.sealed_files; the key id in each file's header, the
digest as associated data), and the diagram keeps only {id, sm3, size, mime}. A retake is uploaded by the channel
through POST /api/v1/files (processes.files) and reaches the diagram as a `file` form field.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from handlers.registry import HandlerError, operator
from handlers.sealed_files import SealedFileError, is_sealed, open_bytes, write_sealed
from integrations.crypto import sm3_hex
from integrations.errors import PermanentError
from integrations.photo import PhotoClient

MIMES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
MAX_PHOTO_BYTES = 2 * 1024 * 1024


class PhotoStore:
    """Photo binaries in a folder, one encrypted file per SM3 digest (writing the same photo twice is harmless).

    `keys` is the key provider; by default the one the platform installed for the model layer
    (models.protection.current_keys), so handlers need no Flask and no extra parameter.
    """

    def __init__(self, root: str | Path, keys: Any = None) -> None:
        self.root = Path(root)
        self._keys = keys

    @property
    def keys(self) -> Any:
        """The key provider that seals and opens the files."""
        if self._keys is None:
            from models.protection import current_keys

            self._keys = current_keys()
        return self._keys

    def path(self, sm3: str) -> Path:
        """Where the photo with this digest lives."""
        if len(sm3) != 64 or not all(c in "0123456789abcdef" for c in sm3):
            raise HandlerError("PHOTO_KEY_INVALID", "照片标识无效")
        return self.root / sm3[:2] / sm3

    def put(self, content: bytes, mime: str) -> dict[str, Any]:
        """Store the bytes; the reference the workflow keeps."""
        digest = sm3_hex(content)
        target = self.path(digest)
        if not self._intact(target, digest):  # absent, from before encryption, or damaged: we hold the bytes
            write_sealed(target, content, digest, self.keys)  # atomic: a reader never sees half a photo
        return {"id": digest[:16], "sm3": digest, "size": len(content), "mime": mime}

    def _intact(self, path: Path, digest: str) -> bool:
        try:
            blob = path.read_bytes()
            return is_sealed(blob) and sm3_hex(open_bytes(blob, digest, self.keys)) == digest
        except (OSError, SealedFileError):
            return False

    def get(self, sm3: str) -> bytes:
        """The bytes of a stored photo, decrypted and checked against their digest."""
        try:
            blob = self.path(sm3).read_bytes()
        except FileNotFoundError as exc:
            raise HandlerError("PHOTO_FILE_MISSING", "照片文件不存在") from exc
        content = blob
        if is_sealed(blob):
            try:
                content = open_bytes(blob, sm3, self.keys)
            except SealedFileError as exc:
                if exc.code == "FILE_KEY_UNKNOWN":
                    raise HandlerError("PHOTO_FILE_KEY_UNKNOWN", "照片文件的密钥不可用，请联系安全管理员") from exc
                raise HandlerError("PHOTO_FILE_TAMPERED", "照片文件完整性校验未通过（疑似被篡改），已拒绝使用") from exc
        # A file written before encryption is accepted only if it still matches its digest.
        if sm3_hex(content) != sm3:
            raise HandlerError("PHOTO_FILE_CORRUPT", "照片文件已损坏（摘要不符）")
        return content


@operator("photo.take_sscard", clients=("photo",), max_attempts=5, backoff_seconds=2.0)
def take_sscard(*, photo: PhotoClient, id_number: str, name: str, store_root: str) -> dict[str, Any]:
    """Fetch the social-security-card photo and store it; the workflow keeps only its reference."""
    try:
        result = photo.social_security_photo(id_number, name)
    except PermanentError as exc:
        if exc.code == "PHOTO_NOT_FOUND":
            raise HandlerError("PHOTO_NOT_FOUND", "社保卡照片不存在，需联系申请人重新拍摄") from exc
        raise
    return {
        **PhotoStore(store_root).put(result.content, result.mime),
        "source": "social_security",
        "taken_at": result.taken_at,
    }


def _check_image(data: bytes, mime: str) -> None:
    """PHOTO_INVALID unless the bytes are a JPEG or PNG of the declared type; PHOTO_TOO_LARGE over 2MB."""
    if mime not in MIMES or not data.startswith(MIMES[mime]):
        raise HandlerError("PHOTO_INVALID", "上传的文件不是JPEG或PNG图片")
    if len(data) > MAX_PHOTO_BYTES:
        raise HandlerError("PHOTO_TOO_LARGE", "照片不能超过2MB")


@operator("photo.use_upload")
def use_upload(*, upload_file: dict, store_root: str) -> dict[str, Any]:
    """Take a retake uploaded through POST /api/v1/files (by reference): check the stored bytes; its reference."""
    data = PhotoStore(store_root).get(upload_file["sm3"])
    _check_image(data, upload_file["mime"])
    ref = {"id": upload_file["id"], "sm3": upload_file["sm3"], "size": len(data), "mime": upload_file["mime"]}
    return {**ref, "source": "retake"}


@operator("photo.store_upload")
def store_upload(*, content: str, mime: str, store_root: str) -> dict[str, Any]:
    """Legacy (diagram versions before photo.use_upload): decode a base64 retake, check and store it."""
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HandlerError("PHOTO_INVALID", "上传的照片不是有效的base64编码") from exc
    _check_image(data, mime)
    return {**PhotoStore(store_root).put(data, mime), "source": "retake"}


@operator("photo.review", clients=("photo",), max_attempts=5, backoff_seconds=2.0)
def review(*, photo: PhotoClient, id_number: str, photo_file: dict, store_root: str) -> dict[str, Any]:
    """The automatic review of a stored photo: score, passed and the reasons of a failure."""
    content = PhotoStore(store_root).get(photo_file["sm3"])
    verdict = photo.review(id_number, content, mime=photo_file.get("mime", "image/jpeg"))
    return {
        "passed": verdict.passed,
        "score": verdict.score,
        "reasons": list(verdict.reasons),
        "sm3": verdict.photo_sm3,
        "reviewed_at": verdict.reviewed_at,
    }
