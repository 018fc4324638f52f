"""The staff guard every view uses: who is signed in, what they may do, and the decorator that enforces it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import g, redirect, request, url_for

from processes.permissions import permissions_for


@dataclass(frozen=True)
class StaffPrincipal:
    """The signed-in staff member as views and services see them."""

    id: int
    username: str
    display_name: str
    role: str
    permissions: frozenset[str]
    district: str | None
    service_point: str | None


def principal_for(user: Any) -> StaffPrincipal:
    """A principal from an AppUser row."""
    return StaffPrincipal(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        permissions=permissions_for(user.role),
        district=user.district,
        service_point=user.service_point,
    )


def current_staff() -> StaffPrincipal | None:
    """The signed-in staff member of this request, or None."""
    return g.get("staff")


def has_permission(code: str) -> bool:
    """True when someone is signed in and their role grants the permission."""
    staff = current_staff()
    return staff is not None and code in staff.permissions


def _refused(codes: tuple[str, ...]) -> Any:
    from webapp.errors import audit_denial, error_response

    staff = current_staff()
    audit_denial("PERMISSION_DENIED", {"needs": list(codes)})
    return error_response(
        403,
        "PERMISSION_DENIED",
        "您没有执行此操作的权限，如需办理请联系安全管理员",
        {"needs": list(codes), "role": staff.role if staff else None},
    )


def require_permission(*codes: str, during_password_change: bool = False) -> Callable:
    """View decorator: not signed in → the sign-in page (with `next`); lacking any of `codes` → 403, audited.

    `during_password_change` serves the view while the user must first change their password (that page).
    """

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            staff = current_staff()
            if staff is None:
                if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
                    from webapp.errors import error_response

                    return error_response(401, "SIGN_IN_REQUIRED", "请先登录")
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if g.get("password_change_required") and not during_password_change:
                return redirect(url_for("auth.change_password"))
            if not all(code in staff.permissions for code in codes):
                return _refused(codes)
            return view(*args, **kwargs)

        wrapped.required_permissions = codes  # lets tests list every guarded view
        return wrapped

    return decorate


def require_signed_in(view: Callable) -> Callable:
    """View decorator for pages any signed-in staff member may see (own password, sign-out)."""
    return require_permission()(view)
