"""Staff-facing pages (zh-CN). The full clerk/approver/analyst UI builds on this blueprint."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from processes.catalogue import overview
from processes.platform import get_platform

web = Blueprint("web", __name__)


@web.get("/")
def index() -> Any:
    """Home: deployed processes, queue sizes and links to the API documentation."""
    return render_template("index.html", overview=overview(get_platform()))
