"""Demo data for `make run`: one user per role, the four channels plus an ops client, with printed secrets."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from models import ChannelClient, db
from processes.channels import CHANNELS, api_key_digest, register_client
from processes.roles import ROLES
from processes.sms_templates import ensure_default_templates
from processes.unit_of_work import transaction
from processes.users import upsert_user

DEMO_USERS = [
    ("clerk01", "张晓燕（徐汇区田林街道受理员）", "clerk", "XH-TL-01", "徐汇区"),
    ("clerk02", "李明（浦东新区花木街道受理员）", "clerk", "PD-HM-01", "浦东新区"),
    ("approver1", "王建国（业务审核）", "approver_l1", None, None),
    ("approver2", "陈静（中心复核）", "approver_l2", None, None),
    ("caller01", "刘芳（外拨专员）", "outbound_agent", None, None),
    ("analyst01", "赵磊（业务分析）", "analyst", None, None),
    ("operator01", "孙丽（数据运维）", "data_operator", None, None),
    ("sysadmin", "系统管理员", "sysadmin", None, None),
    ("secadmin", "安全管理员", "secadmin", None, None),
    ("auditadmin", "审计管理员", "auditadmin", None, None),
]


@dataclass
class DemoCredentials:
    """What `make run` prints."""

    password: str
    users: list[tuple[str, str, str]]
    api_keys: dict[str, str]


def load_demo_data(password: str | None = None) -> DemoCredentials:
    """Create or refresh demo users and API clients; every run issues fresh secrets."""
    password = password or "Pf#" + secrets.token_urlsafe(9)
    ensure_default_templates("demo-data")
    users = []
    for username, name, role, point, district in DEMO_USERS:
        upsert_user(username, name, role, password, point, district)
        users.append((username, name, ROLES[role]))
    keys: dict[str, str] = {}
    for code, name in [*CHANNELS.items(), ("ops", "运维监控")]:
        kind = "ops" if code == "ops" else "channel"
        key = f"pf_demo_{code}_" + secrets.token_hex(8)
        with transaction():
            existing = db.session.execute(select(ChannelClient).where(ChannelClient.code == code)).scalar_one_or_none()
            if existing is not None:
                existing.api_key_digest, existing.active = api_key_digest(key), True
        if existing is None:
            register_client(code, name, kind, key)
        keys[code] = key
    return DemoCredentials(password, users, keys)
