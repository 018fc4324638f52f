"""Roles, their Chinese labels, and how BPMN lane names map onto them."""

from __future__ import annotations

ROLES: dict[str, str] = {
    "applicant": "申请人（渠道）",
    "clerk": "网点受理员",
    "approver_l1": "业务审核（一级）",
    "approver_l2": "中心复核（二级）",
    "outbound_agent": "外拨专员",
    "analyst": "业务分析员",
    "data_operator": "数据运维员",
    "sysadmin": "系统管理员",
    "secadmin": "安全管理员",
    "auditadmin": "审计管理员",
}

# Lanes that hold only automatic work (service/script tasks); a user task there is a deployment error.
SYSTEM_LANES = {"system": "系统"}

# The roles a person may hold only one of (MLPS level 3: separate administrators).
ADMIN_ROLES = ("sysadmin", "secadmin", "auditadmin")


def role_for_lane(lane: str | None) -> str | None:
    """The role code a lane stands for (by code or Chinese label), or None."""
    if not lane:
        return None
    lane = lane.strip()
    for code, label in ROLES.items():
        if lane in (code, label):
            return code
    return None


def is_system_lane(lane: str | None) -> bool:
    """True for the automatic lane."""
    return bool(lane) and lane.strip() in {*SYSTEM_LANES, *SYSTEM_LANES.values()}
