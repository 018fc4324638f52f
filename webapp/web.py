"""Home page: a role dashboard for signed-in staff; the platform's landing page (sign-in) otherwise."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from processes.catalogue import overview
from processes.inbox import dashboard, process_names
from processes.platform import get_platform

web = Blueprint("web", __name__)


@web.get("/")
def index() -> Any:
    """Signed in: my work at a glance (by permission). Otherwise: what the platform runs, and sign-in."""
    from webapp.auth.guard import current_staff

    principal = current_staff()
    if principal is None:
        return render_template("index.html", processes=process_names())
    from webapp.staff import staff_actor

    permissions = principal.permissions
    ops = overview(get_platform()) if "ops.view" in permissions else None
    return render_template("index.html", tiles=dashboard(staff_actor(), permissions), ops=ops)
