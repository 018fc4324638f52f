"""Uploaded files (DESIGN-NOTES §3): binaries go to the SM3-keyed file store once, SM4-GCM-encrypted (the
platform's key provider; handlers.sealed_files); workflow data keeps only {id, sm3, size, mime}. A channel
may reference only the files it uploaded itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from handlers.photo import MIMES, PhotoStore
from models import db
from models.files import UploadedFile
from processes.domain.photos import store_root
from processes.errors import BadRequest, Conflict, PayloadTooLarge, ValidationFailed
from processes.stepping import Actor
from processes.unit_of_work import transaction

FILE_MIMES = tuple(MIMES)  # image/jpeg, image/png: the only uploads a channel may send today


def check_upload(content: bytes, mime: str, max_bytes: int) -> None:
    """Refuse an empty, oversized or non-image upload, or one whose bytes do not match its declared type."""
    if not content:
        raise BadRequest("FILE_EMPTY", "上传内容为空")
    if len(content) > max_bytes:
        raise PayloadTooLarge("FILE_TOO_LARGE", f"文件不能超过{max_bytes}字节", {"max_bytes": max_bytes})
    if mime not in MIMES:
        raise ValidationFailed(
            "FILE_TYPE_UNSUPPORTED", "只接受JPEG或PNG图片（Content-Type: image/jpeg 或 image/png）", {"mime": mime}
        )
    if not content.startswith(MIMES[mime]):
        raise ValidationFailed("FILE_NOT_IMAGE", "上传的文件不是有效的JPEG或PNG图片", {"mime": mime})


def upload_file(content: bytes, mime: str, actor: Actor, max_bytes: int) -> tuple[dict[str, Any], bool]:
    """Store the bytes (once, by SM3) and record the uploader; returns the reference and whether it is new."""
    check_upload(content, mime, max_bytes)
    from processes.platform import get_platform  # late: the platform module imports the services

    ref = PhotoStore(store_root(), get_platform().keys).put(content, mime)  # SM4-GCM-encrypted at rest
    with transaction():
        row = db.session.execute(
            select(UploadedFile).where(UploadedFile.file_id == ref["id"], UploadedFile.uploaded_by == actor.name)
        ).scalar_one_or_none()
        if row is not None:
            if row.sm3 != ref["sm3"]:  # a 64-bit id prefix shared by different bytes: refuse, never mix them up
                raise Conflict("FILE_ID_COLLISION", "文件标识冲突，请重新处理图片后上传")
            return row.reference(), False
        row = UploadedFile(
            file_id=ref["id"],
            sm3=ref["sm3"],
            size=ref["size"],
            mime=mime,
            uploaded_by=actor.name,
            channel_id=actor.channel_id if actor.kind == "channel" else None,
        )
        db.session.add(row)
    return row.reference(), True


def file_reference(file_id: Any, actor: Actor | None = None) -> dict[str, Any] | None:
    """{id, sm3, size, mime} of an uploaded file the actor may use (a channel: only its own), else None."""
    if not isinstance(file_id, str) or not file_id:
        return None
    query = select(UploadedFile).where(UploadedFile.file_id == file_id)
    if actor is not None and actor.kind == "channel":
        query = query.where(UploadedFile.channel_id == actor.channel_id)
    row = db.session.execute(query.order_by(UploadedFile.id).limit(1)).scalar_one_or_none()
    return row.reference() if row is not None else None
