"""Roles and permissions, object scope, password policy and the separate administrators (S2, roles)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from config import ConfigError, Settings
from processes.auth_passwords import generate_password, password_problems
from processes.errors import Conflict
from processes.permissions import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    can_access_district,
    district_scope,
    permissions_for,
    service_point_scope,
)
from processes.roles import ADMIN_ROLES, ROLES

SETTINGS = Settings.from_env(environ={})


@dataclass
class P:
    role: str
    district: str | None = None
    service_point: str | None = None


def test_every_staff_role_has_least_privilege_permissions():
    assert set(ROLE_PERMISSIONS) == set(ROLES) - {"applicant"}
    assert permissions_for("applicant") == frozenset() and permissions_for(None) == frozenset()
    assert permissions_for("clerk") == {"inbox.view", "task.work", "case.view", "person.unmask"}
    assert "approval.l1" in permissions_for("approver_l1") and "approval.l2" not in permissions_for("approver_l1")
    assert "approval.l2" in permissions_for("approver_l2") and "approval.l1" not in permissions_for("approver_l2")
    assert permissions_for("auditadmin") == {"audit.view", "audit.export"}
    assert permissions_for("secadmin") == {"user.manage", "security.manage"}
    # Only the audit administrator reads the audit log; only the security administrator manages accounts.
    assert [r for r, p in ROLE_PERMISSIONS.items() if "audit.view" in p] == ["auditadmin"]
    assert [r for r, p in ROLE_PERMISSIONS.items() if "user.manage" in p] == ["secadmin"]
    used = set().union(*ROLE_PERMISSIONS.values())
    assert used <= set(PERMISSIONS)


def test_the_three_administrators_share_no_permission():
    for a in ADMIN_ROLES:
        for b in ADMIN_ROLES:
            if a != b:
                assert not permissions_for(a) & permissions_for(b)


def test_clerks_see_only_their_district():
    clerk = P("clerk", "徐汇区", "XH-TL-01")
    assert can_access_district(clerk, "徐汇区") and not can_access_district(clerk, "浦东新区")
    assert district_scope(clerk) == "徐汇区" and service_point_scope(clerk) == "XH-TL-01"
    assert not can_access_district(P("clerk"), "徐汇区") and not can_access_district(P("clerk"), None)
    assert can_access_district(P("approver_l1"), "浦东新区") and district_scope(P("approver_l2")) is None
    assert not can_access_district(None, "徐汇区")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt#", "密码长度至少10位"),
        ("alllowercase123", "至少3类"),
        ("Has Space#12345", "不能包含空格"),
        ("Clerk01#Passw0rd", "不能包含用户名"),
    ],
)
def test_password_policy(password, problem):
    assert any(problem in p for p in password_problems(SETTINGS, password, "clerk01"))


def test_good_and_generated_passwords_pass():
    assert password_problems(SETTINGS, "Fresh#Passw0rd-9", "clerk01") == []
    assert all(password_problems(SETTINGS, generate_password(SETTINGS)) == [] for _ in range(50))


def test_policy_settings_are_validated():
    with pytest.raises(ConfigError, match="PASSWORD_MIN_LENGTH"):
        Settings.from_env(environ={}, PASSWORD_MIN_LENGTH=6)
    with pytest.raises(ConfigError, match="PASSWORD_MIN_CLASSES"):
        Settings.from_env(environ={}, PASSWORD_MIN_CLASSES=5)
    with pytest.raises(ConfigError, match="LOGIN_FACTORS"):
        Settings.from_env(environ={}, LOGIN_FACTORS="fingerprint")
    assert Settings.from_env(environ={"LOGIN_FACTORS": "ukey"}).login_factors == ("ukey",)


def test_one_person_holds_at_most_one_administrator_role(ctx):
    from processes.users import register_ukey, upsert_user
    from tests.webapp.auth_support import demo_key

    sec = upsert_user("sec1", "安全管理员", "secadmin", "Pw#123456789", mobile="13911110000")
    with pytest.raises(Conflict, match="三员角色不能兼任"):
        upsert_user("aud1", "审计管理员", "auditadmin", "Pw#123456789", mobile="13911110000")
    with pytest.raises(Conflict, match="三员角色不能兼任"):
        upsert_user("sec1", "安全管理员", "auditadmin", "Pw#123456789", mobile="13911110000")
    # The same UKey (the same person) cannot serve a second administrator account either.
    pem = demo_key("admin-person").public_key().to_pem().decode()
    register_ukey(sec.id, pem, by=None)
    aud = upsert_user("aud1", "审计管理员", "auditadmin", "Pw#123456789", mobile="13922220000")
    with pytest.raises(Conflict, match="三员角色不能兼任"):
        register_ukey(aud.id, pem, by=None)
    # Ordinary roles are not restricted.
    upsert_user("clerkx", "受理员", "clerk", "Pw#123456789", "XH-1", "徐汇区", mobile="13911110000")
