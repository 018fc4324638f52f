"""Staff authentication for the web app: gateway check, server-side sessions, CSRF, audit actor, Jinja globals."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from flask import Flask, flash, g, request, session

from processes import audit
from webapp.auth.guard import StaffPrincipal, current_staff, has_permission, principal_for, require_permission

__all__ = ["StaffPrincipal", "csrf_token", "current_staff", "has_permission", "init_auth", "require_permission"]

log = logging.getLogger("permitflow.auth")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Paths outside the staff session: the channel API (API keys), health probes, static files.
SESSIONLESS = ("/api/", "/static/", "/healthz", "/readyz")


def csrf_token() -> str:
    """This browser session's CSRF token (created on first use, replaced at sign-in)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _client_ip() -> str | None:
    identity = g.get("gateway")
    if identity is not None and identity.client_ip:
        return identity.client_ip
    return (request.remote_addr or "")[:64] or None


def _trace_ids() -> audit.TraceIds:
    """The request id audit rows keep (always made by this server) and the caller's X-Request-ID, if it chose one."""
    request_id = g.get("request_id") or secrets.token_hex(8)
    supplied = request.headers.get("X-Request-ID", "")[:64] or None
    if supplied is not None and supplied == request_id:  # the id of this request was chosen by the client
        request_id = secrets.token_hex(8)
    return audit.TraceIds(request_id=request_id, client_request_id=supplied)


def _load_staff(settings: Any) -> None:
    from processes.auth import end_session, load_session, must_change_password

    token = session.get("sid")
    found = load_session(settings, token) if token else None
    if token and found is None:
        session.pop("sid", None)
        flash("会话已超时或已在别处结束，请重新登录", "warning")
        return
    if found is None:
        return
    user, _row = found
    gateway = g.get("gateway")
    if gateway is not None and gateway.username != user.username:
        # The gateway now vouches for someone else: this cookie must not carry over.
        end_session(token, "gateway_user")
        session.pop("sid", None)
        return
    g.staff = principal_for(user)
    g.password_change_required = must_change_password(settings, user)
    audit.actor_context.set(audit.AuditActor(user.id, user.username, user.role, _client_ip()))


def _check_csrf() -> Any:
    if request.method in SAFE_METHODS or request.path.startswith("/api/"):
        return None
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf") or ""
    if expected and hmac.compare_digest(sent, expected):
        return None
    from webapp.errors import error_response

    audit.log("csrf.refused", result="denied", object_type="path", object_id=request.path)
    return error_response(400, "CSRF_FAILED", "页面已过期或请求来源无法验证，请刷新页面后重试")


def init_auth(app: Flask) -> None:
    """Install the hooks, cookie settings, Jinja globals and the sign-in, user and audit blueprints."""
    from webapp.auth import gateway
    from webapp.auth.admin import users_admin
    from webapp.auth.audit_views import audit_pages
    from webapp.auth.views import auth

    settings = app.config["PERMITFLOW_SETTINGS"]
    app.config.update(
        SESSION_COOKIE_NAME="pf_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.PERMITFLOW_ENV == "production",
    )

    @app.before_request
    def _auth_start() -> Any:
        g.audit_token = audit.actor_context.set(audit.AuditActor(ip=_client_ip()))
        g.trace_token = audit.trace_context.set(_trace_ids())
        refused = gateway.enforce(settings)
        if refused is not None:
            return refused
        identity = g.get("gateway")
        if identity is not None and identity.client_ip:  # the signed client address, not the gateway's own
            audit.actor_context.set(audit.AuditActor(ip=identity.client_ip))
        if request.path.startswith(SESSIONLESS):
            return None
        _load_staff(settings)
        return _check_csrf()

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if g.get("staff") is not None or request.path.startswith(("/login", "/account", "/admin", "/audit")):
            response.headers["Cache-Control"] = "no-store"  # pages with personal data stay out of caches
        return response

    @app.teardown_request
    def _auth_end(_exc) -> None:
        token = g.pop("audit_token", None)
        if token is not None:
            audit.actor_context.reset(token)
        trace = g.pop("trace_token", None)
        if trace is not None:
            audit.trace_context.reset(trace)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"staff": current_staff(), "csrf_token": csrf_token, "has_permission": has_permission}

    app.register_blueprint(auth)
    app.register_blueprint(users_admin)
    app.register_blueprint(audit_pages)
