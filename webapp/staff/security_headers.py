"""Browser hardening headers: a Content-Security-Policy on every response, a sandbox on served files."""

from __future__ import annotations

from flask import Flask, Response

# No inline script anywhere (page behaviour lives in webapp/static/js); styles may be inline because the
# bpmn-js/dmn-js modelers set them at run time. Frames and forms stay on our own origin.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'self'"
)
# Files staff open (e-licences, photos): no script, no plugins, no same-origin rights, whatever they contain.
FILE_POLICY = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"


def file_headers() -> dict[str, str]:
    """Headers for a file served inline to staff."""
    return {
        "Cache-Control": "no-store",
        "Content-Disposition": "inline",
        "Content-Security-Policy": FILE_POLICY,
        "X-Content-Type-Options": "nosniff",
    }


def register(app: Flask) -> None:
    """Add the policy headers to every response that has not set its own (files set theirs)."""

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
