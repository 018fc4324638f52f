"""Sign-in pages (S2): password, second factor (SMS code or UKey), sign-out, own password, software UKey."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from integrations.crypto import CryptoError, SM2PrivateKey
from processes import auth as auth_service
from processes.errors import ProcessError
from processes.platform import get_platform
from processes.users import change_own_password
from webapp.auth.guard import current_staff, require_permission
from webapp.redirects import local_path

auth = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only our own relative paths: never an open redirect to another site.
    return local_path(target) or url_for("web.index")


def _sign_in(token: str) -> None:
    """A brand-new cookie session: nothing from before sign-in survives (fixation), fresh CSRF token."""
    session.clear()
    session["sid"] = token


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Step one: username and password."""
    settings = get_platform().settings
    next_url = request.values.get("next", "")
    if current_staff() is not None and request.method == "GET":
        return redirect(_safe_next(next_url))
    if request.method == "POST":
        username = request.form.get("username", "")
        gateway = g.get("gateway")
        try:
            if gateway is not None and gateway.username != username.strip().lower():
                raise auth_service.SignInRefused("GATEWAY_USER_MISMATCH", "登录账号与安全网关认证的用户不一致")
            pending = auth_service.check_password_step(settings, username, request.form.get("password", ""))
        except ProcessError as exc:
            status = 429 if exc.status == 429 else 401
            return render_template("auth/login.html", error=exc.message, username=username, next=next_url), status
        if gateway is not None:
            token = auth_service.complete_with_gateway(settings, pending.token, gateway.cert_pem)
            if token:
                _sign_in(token)
                return redirect(_safe_next(next_url))
        session["login"] = pending.token
        session["login_next"] = next_url
        return redirect(url_for("auth.factor"))
    return render_template("auth/login.html", error=None, username="", next=next_url)


def _pending() -> Any:
    return auth_service.pending_login(get_platform().settings, session.get("login"))


@auth.get("/login/factor")
def factor() -> Any:
    """Step two: choose the SMS code or the UKey; the UKey challenge is on the page."""
    try:
        pending = _pending()
    except ProcessError as exc:
        flash(exc.message, "error")
        return redirect(url_for("auth.login"))
    method = request.args.get("method") or ("ukey" if "ukey" in pending.factors else "sms")
    if method not in pending.factors:
        method = pending.factors[0]
    return render_template("auth/factor.html", pending=pending, method=method, error=None, demo_dir=_demo_dir())


def _demo_dir() -> str | None:
    """Where the demo users' software-UKey keys are (shown outside production only)."""
    settings = get_platform().settings
    if settings.PERMITFLOW_ENV == "production":
        return None
    return str(Path(settings.DEMO_KEY_DIR or Path(settings.DATA_DIR) / "demo-ukeys").resolve())


@auth.post("/login/sms")
def send_code() -> Any:
    """Send (or resend) the SMS sign-in code."""
    try:
        masked = auth_service.send_login_code(get_platform(), session.get("login"))
        flash(f"验证码已发送至 {masked}，5分钟内有效", "info")
    except ProcessError as exc:
        flash(exc.message, "error")
        if exc.code in ("SIGN_IN_EXPIRED", "ACCOUNT_LOCKED"):
            return redirect(url_for("auth.login"))
    return redirect(url_for("auth.factor", method="sms"))


@auth.post("/login/verify")
def verify() -> Any:
    """Check the second factor; on success start a new session and go where the user was heading."""
    settings = get_platform().settings
    method = request.form.get("method", "")
    token = session.get("login")
    try:
        if method == "sms":
            session_token, _user = auth_service.verify_sms_code(settings, token, request.form.get("code", ""))
        elif method == "ukey":
            session_token, _user = auth_service.verify_ukey(settings, token, request.form.get("signature", ""))
        else:
            abort(400)
    except ProcessError as exc:
        if exc.code in ("SIGN_IN_EXPIRED", "ACCOUNT_LOCKED"):
            session.pop("login", None)
            return render_template("auth/login.html", error=exc.message, username="", next=""), 401
        try:
            pending = _pending()
        except ProcessError as again:
            return render_template("auth/login.html", error=again.message, username="", next=""), 401
        page = render_template(
            "auth/factor.html", pending=pending, method=method, error=exc.message, demo_dir=_demo_dir()
        )
        return page, 401
    next_url = session.get("login_next", "")
    _sign_in(session_token)
    return redirect(_safe_next(next_url))


@auth.route("/logout", methods=["GET", "POST"])
def logout() -> Any:
    """Sign out: the server-side session ends, so the old cookie is worthless."""
    if request.method == "GET":
        if current_staff() is None:
            return redirect(url_for("auth.login"))
        return render_template("auth/logout.html")
    auth_service.end_session(session.get("sid"), "logout")
    session.clear()
    flash("您已安全退出", "info")
    return redirect(url_for("auth.login"))


@auth.route("/account/password", methods=["GET", "POST"])
@require_permission(during_password_change=True)
def change_password() -> Any:
    """Change one's own password (forced when expired or after a reset)."""
    staff = current_staff()
    settings = get_platform().settings
    forced = bool(g.get("password_change_required"))
    if request.method == "POST":
        try:
            change_own_password(
                settings,
                staff.id,
                request.form.get("current_password", ""),
                request.form.get("new_password", ""),
                request.form.get("confirm", ""),
            )
        except ProcessError as exc:
            problems = (exc.details.get("fields") or {}).get("new_password")
            errors = problems if isinstance(problems, list) else [exc.message]
            return render_template("auth/password.html", errors=errors, forced=forced, settings=settings), 422
        flash("密码已修改", "info")
        return redirect(url_for("web.index"))
    return render_template("auth/password.html", errors=[], forced=forced, settings=settings)


@auth.route("/ukey", methods=["GET", "POST"])
def software_ukey() -> Any:
    """Software UKey for demos and tests: sign a challenge with a key file (never offered in production)."""
    settings = get_platform().settings
    if settings.PERMITFLOW_ENV == "production":
        abort(404)
    signature = error = None
    challenge = request.values.get("challenge", "")
    if request.method == "POST":
        try:
            key = SM2PrivateKey.from_pem(request.form.get("key_pem", "").strip().encode())
            signature = key.sign(bytes.fromhex(challenge.strip())).hex()
        except (CryptoError, ValueError):
            error = "私钥或挑战码格式不正确"
    return render_template("auth/ukey_tool.html", challenge=challenge, signature=signature, error=error)
