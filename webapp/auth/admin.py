"""Security administrator's account pages: list, create, edit (one role), reset, unlock, register a UKey."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from processes import users
from processes.errors import ProcessError
from processes.paging import page_or_first
from processes.platform import get_platform
from processes.roles import ROLES
from webapp.auth.guard import current_staff, require_permission

users_admin = Blueprint("users_admin", __name__, url_prefix="/admin/users")
PER_PAGE = 50
STAFF_ROLES = {code: label for code, label in ROLES.items() if code != "applicant"}


@users_admin.get("")
@require_permission("user.manage")
def index() -> Any:
    """The account list with search by name and role."""
    filters = users.UserFilter(q=request.args.get("q", "").strip()[:64], role=request.args.get("role", ""))
    page = page_or_first(request.args.get("page"))
    rows, total = users.list_users(filters, page, PER_PAGE)
    return render_template(
        "auth/users.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        filters=filters,
        roles=STAFF_ROLES,
        now=users.utcnow(),
    )


@users_admin.route("/new", methods=["GET", "POST"])
@require_permission("user.manage")
def create() -> Any:
    """Create an account; the initial password is shown once."""
    if request.method == "POST":
        try:
            user, initial = users.create_user(get_platform().settings, request.form, by=_me())
        except ProcessError as exc:
            if exc.status == 403:
                raise
            return _form(None, exc), exc.status
        return render_template("auth/user_secret.html", user=user, password=initial, created=True)
    return _form(None, None)


def _me() -> int:
    """The acting security administrator (the services refuse changes to their own account)."""
    return current_staff().id


def _form(user: Any, error: ProcessError | None) -> str:
    return render_template(
        "auth/user_form.html",
        user=user,
        roles=STAFF_ROLES,
        values=request.form if request.method == "POST" else None,
        error=error.message if error else None,
        fields=(error.details.get("fields", {}) if error else {}),
    )


@users_admin.route("/<int:user_id>", methods=["GET", "POST"])
@require_permission("user.manage")
def edit(user_id: int) -> Any:
    """Edit an account (one role; the three administrator roles never combine)."""
    user = users.get_user(user_id)
    if request.method == "POST":
        try:
            users.update_user(user_id, request.form, by=_me())
        except ProcessError as exc:
            if exc.status == 403:
                raise
            return _form(users.get_user(user_id), exc), exc.status  # reloaded: the failed save rolled back
        flash("已保存", "info")
        return redirect(url_for("users_admin.edit", user_id=user_id))
    return _form(user, None)


@users_admin.post("/<int:user_id>/reset")
@require_permission("user.manage")
def reset(user_id: int) -> Any:
    """Reset the password (shown once; must be changed at next sign-in)."""
    user, initial = users.reset_password(get_platform().settings, user_id, by=_me())
    return render_template("auth/user_secret.html", user=user, password=initial, created=False)


@users_admin.post("/<int:user_id>/unlock")
@require_permission("user.manage")
def unlock(user_id: int) -> Any:
    """Lift a lockout."""
    users.unlock(user_id, by=_me())
    flash("账号已解锁", "info")
    return redirect(url_for("users_admin.edit", user_id=user_id))


@users_admin.post("/<int:user_id>/ukey")
@require_permission("user.manage")
def register_ukey(user_id: int) -> Any:
    """Register the SM2 public key of the user's UKey."""
    try:
        users.register_ukey(user_id, request.form.get("public_key", ""), by=_me())
    except ProcessError as exc:
        if exc.status == 403:
            raise
        flash(exc.message, "error")
        return redirect(url_for("users_admin.edit", user_id=user_id))
    flash("UKey 公钥已登记", "info")
    return redirect(url_for("users_admin.edit", user_id=user_id))
