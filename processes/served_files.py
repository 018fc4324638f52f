"""Which file types staff pages may show inline (e-licences, photos): PDF, PNG and JPEG only."""

from __future__ import annotations

from processes.errors import ProcessError

SERVED_MIME_TYPES = ("application/pdf", "image/png", "image/jpeg")


class FileTypeRefused(ProcessError):
    """A stored or fetched file of a type the staff viewer must not render (415)."""

    status = 415


def servable_mime(mime: str | None) -> str:
    """The normalized MIME type when it may be shown (parameters dropped); FileTypeRefused otherwise."""
    base = (mime or "").split(";", 1)[0].strip().lower()
    if base == "image/jpg":  # a common mislabel of JPEG
        base = "image/jpeg"
    if base not in SERVED_MIME_TYPES:
        raise FileTypeRefused(
            "FILE_TYPE_NOT_ALLOWED",
            "该文件类型不允许在线查看（仅支持PDF、PNG、JPEG）",
            {"mime": base[:100], "allowed": list(SERVED_MIME_TYPES)},
        )
    return base
