"""Staff pages (zh-CN): the shell's helpers, and the inbox, approval and operations blueprints (issue 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, g, request, url_for
from werkzeug.routing import BuildError

from processes.errors import BadRequest
from processes.platform import Platform, get_platform
from processes.roles import ROLES
from processes.stepping import Actor

# Main navigation: (id, label, endpoint, permission). Entries of other helpers show once their pages exist.
NAV = (
    ("inbox", "待办任务", "inbox.index", "inbox.view"),
    ("approval-l1", "一级审核", "approvals.queue_l1", "approval.l1"),
    ("approval-l2", "二级复核", "approvals.queue_l2", "approval.l2"),
    ("ops", "运行监控", "ops_console.instances", "ops.view"),
    ("incidents", "故障处理", "ops_console.incidents", "ops.view"),
    ("analyst", "流程设计", "analyst.index", "process.view"),
    ("changes", "数据修改与变更", "changes.index", "data.change"),
    ("queries", "业务查询", "queries.index", "report.view"),
    ("reports", "统计报表", "reports.index", "report.view"),
    ("users", "用户管理", "users_admin.index", "user.manage"),
    ("audit", "审计日志", "audit.index", "audit.view"),
)


def staff_actor() -> Actor:
    """The signed-in staff member as the process services know them (role, district scope)."""
    from processes.permissions import district_scope
    from webapp.auth.guard import current_staff

    principal = current_staff()
    return Actor(
        kind="user",
        name=principal.username,
        roles=(principal.role,),
        request_id=g.get("request_id"),
        extra={
            "district": district_scope(principal),
            "service_point": principal.service_point,
            "display_name": principal.display_name,
            "user_id": principal.id,
        },
    )


def filter_source(id_keys: tuple[str, ...] = ("id_number",)) -> Any:
    """Where a filter page reads its filters: the POSTed form, or the query string without any ID number.

    ID numbers never travel in URLs (they end up in browser history, proxy and server logs): the filter forms
    and their paging are POSTed; a URL that carries one is refused with a Chinese 400.
    """
    if request.method == "POST":
        return request.form
    carried = [key for key in id_keys if request.args.get(key)]
    if carried:
        raise BadRequest("ID_NUMBER_IN_URL", "身份证号码不能出现在网址中，请通过查询表单提交", {"field": carried[0]})
    return request.args


def filter_args(source: Any) -> dict[str, str]:
    """The non-empty filters to carry to the next page (POSTed again), without paging and the CSRF token."""
    return {k: v for k, v in source.items() if k not in ("page", "csrf_token") and v}


def platform() -> Platform:
    """The process platform of this app."""
    return get_platform()


def nav_url(endpoint: str, **values: Any) -> str | None:
    """The URL of an endpoint, or None when no blueprint provides it (yet)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _permitted(code: str) -> bool:
    from webapp.auth.guard import has_permission

    return has_permission(code)


def staff_nav() -> list[dict[str, Any]]:
    """The navigation entries the signed-in user may use; the current page's entry is marked."""
    endpoint = request.endpoint or ""
    items = []
    for item_id, label, target, permission in NAV:
        url = nav_url(target)
        if url and _permitted(permission):
            blueprint = target.split(".")[0]
            siblings = sum(1 for n in NAV if n[2].split(".")[0] == blueprint)
            current = endpoint == target or (endpoint.startswith(blueprint + ".") and siblings == 1)
            items.append({"id": item_id, "label": label, "url": url, "current": current})
    return items


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC timestamp as Shanghai local time for display."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.astimezone(get_platform().settings.zone).strftime(fmt)


def now_local() -> str:
    """The current Shanghai time (print footers)."""
    from models import utcnow

    return local_time(utcnow())


def init_staff(app: Flask) -> None:
    """Register the staff blueprints and the shell's template helpers."""
    from webapp.staff.approvals import approvals
    from webapp.staff.changes import blueprint as changes
    from webapp.staff.inbox import inbox
    from webapp.staff.ops import ops_console

    app.register_blueprint(inbox)
    app.register_blueprint(approvals)
    app.register_blueprint(ops_console)
    app.register_blueprint(changes)
    from webapp.staff.queries import queries
    from webapp.staff.reports import reports

    app.register_blueprint(queries)  # business queries (issue 7, C3)
    app.register_blueprint(reports)  # statistics and reports (issue 7, C4)
    app.jinja_env.globals.update(
        nav_url=nav_url,
        staff_nav=staff_nav,
        now_local=now_local,
        role_label=lambda role: ROLES.get(role or "", role or ""),
    )
    app.jinja_env.filters["local"] = local_time
    from webapp.staff import security_headers

    security_headers.register(app)  # CSP and framing headers on every response (finding 19)
