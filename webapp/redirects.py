"""Where a form may send the browser next: our own relative paths only, never another site."""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site (no scheme, no host, no control characters), else None."""
    if not target or not target.startswith("/") or len(target) > 2000:
        return None
    # Browsers drop tabs and newlines and read "\" as "/": "/\t/evil.com" or "/\\evil.com" leave the site.
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    return target
