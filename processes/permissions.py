"""Roles → permission codes (least privilege), and the object-scope rules every service applies."""

from __future__ import annotations

from typing import Any

from processes.roles import ADMIN_ROLES, ROLES

PERMISSIONS: dict[str, str] = {
    "inbox.view": "查看待办",
    "task.work": "办理任务",
    "approval.l1": "一级审核",
    "approval.l2": "二级复核",
    "case.view": "查看业务",
    "person.unmask": "查看完整个人信息",
    "process.view": "查看流程",
    "process.design": "设计流程",
    "process.publish": "发布流程",
    "ops.view": "运行监控",
    "ops.act": "运维操作",
    "audit.view": "查看审计日志",
    "audit.export": "导出审计日志",
    "user.manage": "用户管理",
    "security.manage": "安全配置",
    "data.change": "数据维护",
    "change.view": "查看变更申请",
    "report.view": "查看报表",
    "report.export": "导出报表",
}

_CASEWORK = {"inbox.view", "task.work", "case.view", "person.unmask"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "clerk": frozenset(_CASEWORK),
    # Approvers read the change requests they decide (change.view); submitting one needs data.change.
    "approver_l1": frozenset(_CASEWORK | {"approval.l1", "change.view"}),
    "approver_l2": frozenset(_CASEWORK | {"approval.l2", "change.view"}),
    "outbound_agent": frozenset(_CASEWORK),
    # Analysts design and publish, but publishing is four-eyes (processes.design_review): an analyst approves
    # only drafts someone else wrote and submitted, never their own.
    "analyst": frozenset({"process.view", "process.design", "process.publish", "report.view", "report.export"}),
    "data_operator": frozenset({"ops.view", "ops.act", "process.view", "case.view", "data.change", "change.view"}),
    # The three administrators never overlap: system running, accounts/security, audit.
    "sysadmin": frozenset({"ops.view", "ops.act", "process.view", "report.view"}),
    "secadmin": frozenset({"user.manage", "security.manage"}),
    "auditadmin": frozenset({"audit.view", "audit.export"}),
}

# Roles whose view of cases is limited to their own district (and service point for the inbox).
DISTRICT_SCOPED_ROLES = frozenset({"clerk"})
STAFF_ROLES = tuple(role for role in ROLES if role != "applicant")

assert set(ROLE_PERMISSIONS) == set(STAFF_ROLES), "every staff role needs a permission set"
assert all(p <= set(PERMISSIONS) for p in ROLE_PERMISSIONS.values()), "unknown permission code"
assert not any(ROLE_PERMISSIONS[a] & ROLE_PERMISSIONS[b] for a in ADMIN_ROLES for b in ADMIN_ROLES if a != b), (
    "the three administrator roles must not share a permission"
)


def permissions_for(role: str | None) -> frozenset[str]:
    """The permission codes of a role (empty for an unknown role)."""
    return ROLE_PERMISSIONS.get(role or "", frozenset())


def role_has(role: str | None, code: str) -> bool:
    """True when the role grants the permission code."""
    return code in permissions_for(role)


def district_scope(principal: Any) -> str | None:
    """The district a principal is limited to, or None when it sees every district.

    A district-scoped role without a district sees nothing: callers get the impossible district "".
    """
    if principal is None:
        return ""
    if getattr(principal, "role", None) in DISTRICT_SCOPED_ROLES:
        return getattr(principal, "district", None) or ""
    return None


def can_access_district(principal: Any, district: str | None) -> bool:
    """True when the principal (anything with .role and .district) may see a case of this district."""
    scope = district_scope(principal)
    return scope is None or (bool(scope) and scope == district)


def service_point_scope(principal: Any) -> str | None:
    """The service point a principal's inbox is limited to, or None when not limited."""
    if getattr(principal, "role", None) in DISTRICT_SCOPED_ROLES:
        return getattr(principal, "service_point", None) or ""
    return None
