"""Refuse input no part of the system can store or look up, before any view sees it (never a 500).

PostgreSQL text cannot hold a NUL character, a lone surrogate cannot be encoded as UTF-8, and an integer
beyond 64 bits overflows every id column: such values in the path, the query string, a form or a JSON body
get 400 BAD_CHARACTERS (an id path segment out of range is simply not found); a JSON body nested deeper
than any form gets 400 JSON_TOO_DEEP.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from werkzeug.routing import IntegerConverter

from processes.errors import BadRequest
from processes.text_rules import storable

MAX_ID = 2**63 - 1  # BIGINT
# The MCA 3.0 interface answers every request, refusals included, in its signed and encrypted envelope, and
# checks the fields of each decrypted payload itself (processes/mca/fields.py).
OWN_ERROR_SHAPES = ("/api/mca/",)
MAX_DEPTH = 32  # nesting of a JSON body; the deepest form data is a few levels


class IdConverter(IntegerConverter):
    """`<int:…>` path segments: non-negative and within BIGINT, else the route does not match (404)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = None) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max)


def _bad_text(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return not storable(value)
    if depth > MAX_DEPTH:
        raise BadRequest("JSON_TOO_DEEP", f"请求体的嵌套层次过深（最多 {MAX_DEPTH} 层）")
    if isinstance(value, dict):
        return any(_bad_text(k, depth + 1) or _bad_text(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_bad_text(v, depth + 1) for v in value)
    return False


def _body_parts() -> list[Any]:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        return []  # the view refuses the body as too large, in its own error shape
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        request.get_data(cache=True)  # keep the raw body readable (the gateway signature covers it) after parsing
        return [*request.form.keys(), *request.form.values()]
    if request.is_json:
        try:
            return [request.get_json(silent=True)]
        except RecursionError as exc:  # nested deeper than the parser can go
            raise BadRequest("JSON_TOO_DEEP", f"请求体的嵌套层次过深（最多 {MAX_DEPTH} 层）") from exc
    return []


def _check_request() -> None:
    if request.path.startswith(OWN_ERROR_SHAPES):
        return
    # request.path is already percent-decoded, so it covers every path segment a view receives.
    parts: list[Any] = [request.path, *request.args.keys(), *request.args.values(), *_body_parts()]
    if any(_bad_text(part) for part in parts):
        raise BadRequest("BAD_CHARACTERS", "请求中含有不允许的字符（空字符或无效的编码），请检查后重新提交")


def init_input_guard(app: Flask) -> None:
    """Install the id converter (before any route is added) and the request check."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_check_request)
