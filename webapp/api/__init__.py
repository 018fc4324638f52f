"""Channel API v1: JSON over HTTP, API-key clients, one error shape."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from processes.channels import authenticate
from processes.errors import BadRequest, Forbidden
from processes.paging import MAX_PAGE
from processes.platform import Platform, get_platform
from processes.stepping import Actor

api_v1 = Blueprint("api_v1", __name__, url_prefix="/api/v1")


@api_v1.before_request
def _authenticate() -> None:
    if request.endpoint == "api_v1.openapi":
        return
    key = request.headers.get("X-Api-Key") or _bearer(request.headers.get("Authorization", ""))
    g.actor = authenticate(key, g.get("request_id"))


def _bearer(header: str) -> str | None:
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def actor() -> Actor:
    """The authenticated caller of this request."""
    return g.actor


def require_ops() -> Actor:
    """The caller, who must be an operations client."""
    if g.actor.kind != "ops":
        raise Forbidden("OPS_ONLY", "仅运维接入方可执行此操作")
    return g.actor


def platform() -> Platform:
    """The process platform of this app."""
    return get_platform()


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong."""
    if not request.data:
        return {}
    if not request.is_json:
        raise BadRequest("NOT_JSON", "请求体应为JSON（Content-Type: application/json）")
    body = request.get_json(silent=True)
    if body is None:
        raise BadRequest("MALFORMED_JSON", "请求体不是合法的JSON")
    if not isinstance(body, dict):
        raise BadRequest("BODY_NOT_OBJECT", "请求体应为JSON对象")
    return body


def paging(max_size: int) -> tuple[int, int]:
    """page and per_page from the query string, validated."""
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", 20))
    except ValueError as exc:
        raise BadRequest("BAD_PAGING", "page 和 per_page 应为正整数") from exc
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= max_size:
        raise BadRequest("BAD_PAGING", f"page 在 1 到 {MAX_PAGE} 之间，per_page 在 1 到 {max_size} 之间")
    return page, per_page


from webapp.api import files, instances, openapi, sms, tasks  # noqa: E402,F401  (routes register on the blueprint)
