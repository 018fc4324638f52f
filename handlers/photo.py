"""Photo handlers (A8): the social-security-card photo, uploaded retakes, and the automatic review.

Binaries never enter workflow data: they go to a content-addressed file store (keyed by SM3) under the
platform's data folder, and the diagram keeps only {id, sm3, size, mime}. A retake is uploaded by the channel
through POST /api/v1/files (processes.files) and reaches the diagram as a `file` form field.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any

from handlers.registry import HandlerError, operator
from integrations.crypto import sm3_hex
from integrations.errors import PermanentError
from integrations.photo import PhotoClient

MIMES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
MAX_PHOTO_BYTES = 2 * 1024 * 1024


class PhotoStore:
    """Photo binaries in a folder, one file per SM3 digest (writing the same photo twice is harmless)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, sm3: str) -> Path:
        """Where the photo with this digest lives."""
        if len(sm3) != 64 or not all(c in "0123456789abcdef" for c in sm3):
            raise HandlerError("PHOTO_KEY_INVALID", "照片标识无效")
        return self.root / sm3[:2] / sm3

    def put(self, content: bytes, mime: str) -> dict[str, Any]:
        """Store the bytes; the reference the workflow keeps."""
        digest = sm3_hex(content)
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(content)
            partial.replace(target)  # atomic: a reader never sees half a photo
        return {"id": digest[:16], "sm3": digest, "size": len(content), "mime": mime}

    def get(self, sm3: str) -> bytes:
        """The bytes of a stored photo, checked against their digest."""
        try:
            content = self.path(sm3).read_bytes()
        except FileNotFoundError as exc:
            raise HandlerError("PHOTO_FILE_MISSING", "照片文件不存在") from exc
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
