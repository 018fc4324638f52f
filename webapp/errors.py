"""Error handling: every expected error is JSON {code, message, details} (or a Chinese page); never a raw 500."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from processes.errors import ProcessError

log = logging.getLogger("permitflow.web")

_HTTP_CODES = {
    400: ("BAD_REQUEST", "请求格式有误"),
    401: ("UNAUTHORIZED", "未认证或凭据无效"),
    403: ("FORBIDDEN", "无权执行此操作"),
    404: ("NOT_FOUND", "请求的资源不存在"),
    405: ("METHOD_NOT_ALLOWED", "不支持该请求方法"),
    409: ("CONFLICT", "请求与当前状态冲突"),
    413: ("PAYLOAD_TOO_LARGE", "请求内容超过大小限制"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "请求内容类型不受支持"),
    422: ("UNPROCESSABLE", "请求内容无法处理"),
    429: ("TOO_MANY_REQUESTS", "请求过于频繁，请稍后重试"),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: str, message: str, details: dict | None = None):
    """A JSON error for API callers, a Chinese error page for people."""
    body = {"code": code, "message": message, "details": details or {}, "request_id": g.get("request_id")}
    if _wants_json():
        response = jsonify(body)
        response.status_code = status
        return response
    return render_template("error.html", status=status, **body), status


def audit_denial(code: str, details: dict | None = None) -> None:
    """Audit a refused request (HTTP 403) once: whoever refuses first records it, later layers see the mark."""
    if g.get("denial_audited"):
        return
    g.denial_audited = True
    from processes import audit

    try:
        audit.log(
            "access.denied",
            result="denied",
            object_type="path",
            object_id=request.path,
            details={"code": code, "method": request.method, "endpoint": request.endpoint, **(details or {})},
        )
    except Exception:  # the refusal itself must still reach the user; the failure is logged for operators
        log.exception("could not audit a refused request to %s", request.path)


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on the app."""

    @app.errorhandler(ProcessError)
    def _process_error(exc: ProcessError):
        if exc.status >= 500:
            log.error("engine error %s: %s", exc.code, exc.message)
        if exc.status == 403:
            audit_denial(exc.code, {"message": exc.message, **exc.details})
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        code, message = _HTTP_CODES.get(status, ("HTTP_ERROR", exc.description or "请求失败"))
        if status == 403:
            audit_denial(code)
        return error_response(status, code, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "系统内部错误，请联系管理员并提供请求编号")
