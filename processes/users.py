"""Staff accounts: creation, one role each, the separate administrators, resets, unlocks, UKey registration."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import func, or_, select

from integrations.crypto import CryptoError, sm3_hex
from models import AppUser, StaffSession, db, utcnow
from processes import audit
from processes.auth_integrity import alert_log, intact, seal
from processes.auth_passwords import check_password, check_policy, generate_password, hash_password, set_password
from processes.errors import Conflict, Forbidden, NotFound, ValidationFailed
from processes.roles import ADMIN_ROLES, ROLES
from processes.ukey_keys import public_key_from
from processes.unit_of_work import transaction

__all__ = ["check_password", "hash_password", "upsert_user"]

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
STAFF_ROLES = tuple(r for r in ROLES if r != "applicant")


def ukey_fingerprint(pem: str) -> str:
    """SM3 of the public key point (of a public key or certificate PEM): identifies one UKey across accounts."""
    return sm3_hex(public_key_from(pem).public_bytes())


def _separation(
    user: AppUser, role: str, mobile: str | None, fingerprint: str | None, *, trust_role: bool = True
) -> None:
    """MLPS: one person holds at most one of the three administrator roles.

    An account keeps its administrator role for life, and a person (known by mobile or UKey) who holds one
    administrator role cannot get another through a second account.
    """
    # A tampered row's stored role proves nothing: then only the person checks below apply.
    if trust_role and user.id is not None and user.role in ADMIN_ROLES and role != user.role:
        raise Conflict("ADMIN_ROLE_SEPARATION", "三员角色不能兼任或互换：请停用该账号并另建账号")
    if role not in ADMIN_ROLES:
        return
    same_person = [
        column == value
        for column, value in ((AppUser.mobile, mobile), (AppUser.ukey_fingerprint, fingerprint))
        if value
    ]
    if not same_person:
        return
    clash = db.session.execute(
        select(AppUser.username)
        .where(or_(*same_person))
        .where(AppUser.role.in_([r for r in ADMIN_ROLES if r != role]), AppUser.active.is_(True))
        .where(AppUser.id != (user.id or 0))
    ).first()
    if clash is not None:
        raise Conflict(
            "ADMIN_ROLE_SEPARATION",
            f"该人员已通过账号 {clash[0]} 担任其他管理员角色，三员角色不能兼任",
            {"other_account": clash[0]},
        )


CLI_ONLY = (
    "三员管理员（系统、安全、审计管理员）账号的创建、修改、重置密码和登记UKey不能由一名安全管理员单独在页面办理，"
    "请由运维人员在服务器上使用 permitflow users 命令办理"
)


def _admin_page_rules(by: int | None, user: AppUser | None, role: str | None, action: str) -> None:
    """Rules for the security administrator's pages (`by` = the acting account; None = the operator's CLI).

    One security administrator alone could otherwise take over another administrator account (reset its
    password, register their own UKey, give a new account an administrator role): such changes go through the
    CLI on the server. Nobody changes their own account through these pages.
    """
    if by is None:
        return
    target = user.username if user is not None and user.id is not None else None
    if user is not None and user.id == by:
        raise Forbidden(
            "OWN_ACCOUNT", "不能在账号管理页面修改自己的账号（修改密码请使用“修改密码”页面）", {"action": action}
        )
    if (user is not None and user.role in ADMIN_ROLES) or role in ADMIN_ROLES:
        alert_log.warning("admin account change refused on the admin pages: %s on %s", action, target or role)
        raise Forbidden(
            "ADMIN_ACCOUNT_CLI_ONLY",
            CLI_ONLY,
            {"action": action, "target": target, "role": role, "alert": "auditadmin"},
        )


def _flag(user: AppUser) -> dict[str, str]:
    """Audit details that flag a change of an administrator account for the audit administrator."""
    return {"alert": "auditadmin"} if user.role in ADMIN_ROLES else {}


def _check_fields(data: dict[str, Any], creating: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if creating:
        username = str(data.get("username") or "").strip()
        if not USERNAME.match(username):
            errors["username"] = "用户名须为3到32位小写字母、数字或._-，以字母开头"
        clean["username"] = username
    name = str(data.get("display_name") or "").strip()
    if not 0 < len(name) <= 64:
        errors["display_name"] = "请填写姓名（不超过64个字符）"
    role = str(data.get("role") or "")
    if role not in STAFF_ROLES:
        errors["role"] = "请选择一个有效的角色"
    mobile = str(data.get("mobile") or "").strip() or None
    if mobile and not MOBILE.match(mobile):
        errors["mobile"] = "手机号码应为11位数字、以1开头"
    district = str(data.get("district") or "").strip() or None
    point = str(data.get("service_point") or "").strip() or None
    if role == "clerk" and not (district and point):
        errors["district"] = "网点受理员必须指定所属区和受理网点"
    for key, value in (("district", district), ("service_point", point)):
        if value and len(value) > 32:
            errors[key] = "不能超过32个字符"
    if errors:
        raise ValidationFailed("USER_INVALID", "用户信息有误", {"fields": errors})
    clean.update(display_name=name, role=role, mobile=mobile, district=district, service_point=point)
    return clean


def upsert_user(
    username: str,
    display_name: str,
    role: str,
    password: str,
    service_point: str | None = None,
    district: str | None = None,
    mobile: str | None = None,
    ukey_public_key: str | None = None,
) -> AppUser:
    """Create a user, or reset an existing one's password and role (demo data and tests; no policy check)."""
    if role not in STAFF_ROLES:
        raise ValidationFailed("UNKNOWN_ROLE", f"未知角色 {role}")
    fingerprint = ukey_fingerprint(ukey_public_key) if ukey_public_key else None
    with transaction():
        user = db.session.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()
        if user is None:
            user = AppUser(username=username, failed_logins=0, must_change_password=False)
        _separation(user, role, mobile, fingerprint)
        db.session.add(user)
        user.display_name, user.role, user.password_hash = display_name, role, hash_password(password)
        user.service_point, user.district, user.mobile = service_point, district, mobile
        user.password_changed_at, user.must_change_password = utcnow(), False
        user.failed_logins, user.locked_until, user.active = 0, None, True
        if ukey_public_key:
            user.ukey_public_key, user.ukey_fingerprint = ukey_public_key, fingerprint
        seal(user)
        audit.record("user.upsert", object_type="user", object_id=username, details={"role": role})
    return user


@dataclass(frozen=True)
class UserFilter:
    """Search of the account list."""

    q: str = ""
    role: str = ""


def list_users(filters: UserFilter, page: int = 1, per_page: int = 50) -> tuple[list[AppUser], int]:
    """One page of accounts and the total."""
    query = select(AppUser)
    if filters.q:
        like = f"%{filters.q}%"
        query = query.where(or_(AppUser.username.like(like), AppUser.display_name.like(like)))
    if filters.role:
        query = query.where(AppUser.role == filters.role)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(query.order_by(AppUser.username).offset((page - 1) * per_page).limit(per_page))
    return list(rows.scalars()), total


def get_user(user_id: int) -> AppUser:
    """The account or 404."""
    user = db.session.get(AppUser, user_id)
    if user is None:
        raise NotFound("USER_NOT_FOUND", "用户不存在")
    return user


def get_user_by_name(username: str) -> AppUser:
    """The account with this username or 404."""
    user = db.session.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound("USER_NOT_FOUND", "用户不存在")
    return user


def create_user(settings: Any, data: dict[str, Any], *, by: int | None) -> tuple[AppUser, str]:
    """Create an account with a generated initial password it must change at first sign-in (`by`: see above)."""
    clean = _check_fields(data, creating=True)
    _admin_page_rules(by, None, clean["role"], "create")
    initial = generate_password(settings)
    with transaction():
        if db.session.execute(select(AppUser.id).where(AppUser.username == clean["username"])).first():
            raise Conflict("USERNAME_TAKEN", "用户名已存在")
        user = AppUser(username=clean["username"], failed_logins=0, password_hash="", active=True)
        _separation(user, clean["role"], clean["mobile"], None)
        for key in ("display_name", "role", "mobile", "district", "service_point"):
            setattr(user, key, clean[key])
        set_password(settings, user, initial, must_change=True)
        seal(user)
        db.session.add(user)
        audit.record(
            "user.create",
            object_type="user",
            object_id=user.username,
            details={
                "role": user.role,
                "district": user.district,
                "service_point": user.service_point,
                **_flag(user),
            },
        )
    return user, initial


def update_user(user_id: int, data: dict[str, Any], *, by: int | None) -> AppUser:
    """Change an account's name, role, scope, mobile or active flag (`by`: see _admin_page_rules)."""
    clean = _check_fields(data, creating=False)
    active = str(data.get("active", "1")) not in ("0", "false", "", "None")
    with transaction():
        user = get_user(user_id)
        if not intact(user):
            username = user.username
            tampered = True
        else:
            tampered = False
    if tampered:
        # Saving would re-seal whatever was written behind the application's back: refuse; the operator
        # reviews the row and re-seals it on the server (`permitflow users reseal`).
        _refuse_tampered(username, "user.update")
    with transaction():
        user = get_user(user_id)
        if not intact(user):  # changed between the two reads
            _refuse_tampered(user.username, "user.update")
        unchanged = all(getattr(user, k) == clean[k] for k in clean)
        if not (unchanged and user.active and not active):  # disabling an account takes no second person
            _admin_page_rules(by, user, clean["role"], "update")
        _separation(user, clean["role"], clean["mobile"], user.ukey_fingerprint)
        before = {k: getattr(user, k) for k in ("display_name", "role", "mobile", "district", "service_point")}
        before["active"] = user.active
        for key in ("display_name", "role", "mobile", "district", "service_point"):
            setattr(user, key, clean[key])
        user.active = active
        seal(user)  # the administrator has just reviewed and saved every sealed field
        after = {**clean, "active": active}
        changed = {k: {"from": before[k], "to": after[k]} for k in before if before[k] != after[k] and k != "mobile"}
        if before["mobile"] != after["mobile"]:
            changed["mobile"] = "changed"
        if not active:
            _end_sessions(user.id, "admin")
        audit.record(
            "user.update",
            object_type="user",
            object_id=user.username,
            details={"changed": changed, **_flag(user)},
        )
    return user


def _refuse_tampered(username: str, event: str) -> NoReturn:
    """Alert, audit (committed on its own) and refuse a change to an account whose seal does not match."""
    alert_log.critical("INTEGRITY ALERT: app_user %s failed its seal check at %s", username, event)
    audit.log(event, result="fail", object_type="user", object_id=username, details={"reason": "integrity"})
    raise Conflict(
        "RECORD_TAMPERED",
        "该账号数据完整性校验未通过（疑似被篡改），不能在此修改；请由运维人员在服务器上核查后重新封存",
    )


def reseal(user_id: int) -> AppUser:
    """Operator only (CLI): accept an account's current sign-in data as reviewed and seal it again."""
    with transaction():
        user = get_user(user_id)
        was_intact = intact(user)
        seal(user)
        audit.record(
            "user.reseal",
            object_type="user",
            object_id=user.username,
            details={"was_intact": was_intact, "role": user.role, "alert": "auditadmin"},
        )
    return user


def reset_password(settings: Any, user_id: int, *, by: int | None) -> tuple[AppUser, str]:
    """A new generated password the user must change; unlocks the account and ends its sessions."""
    initial = generate_password(settings)
    with transaction():
        user = get_user(user_id)
        _admin_page_rules(by, user, None, "reset_password")
        set_password(settings, user, initial, must_change=True)
        user.failed_logins, user.locked_until = 0, None
        seal(user)
        _end_sessions(user.id, "admin")
        audit.record("user.reset_password", object_type="user", object_id=user.username, details=_flag(user))
    return user, initial


def unlock(user_id: int, *, by: int | None) -> AppUser:
    """Lift a lockout now (also of an administrator account: that hands nobody its credentials)."""
    with transaction():
        user = get_user(user_id)
        if by is not None and user.id == by:
            _admin_page_rules(by, user, None, "unlock")
        user.failed_logins, user.locked_until = 0, None
        audit.record("user.unlock", object_type="user", object_id=user.username, details=_flag(user))
    return user


def register_ukey(user_id: int, pem: str, *, by: int | None) -> AppUser:
    """Register (or replace) the SM2 public key of an account's UKey (PEM public key or certificate key)."""
    pem = (pem or "").strip()
    try:
        fingerprint = ukey_fingerprint(pem)
    except (CryptoError, ValueError) as exc:
        raise ValidationFailed(
            "UKEY_KEY_INVALID",
            "无法识别的UKey公钥：请粘贴PEM格式的SM2公钥或数字证书",
            {"fields": {"public_key": "格式错误"}},
        ) from exc
    with transaction():
        user = get_user(user_id)
        _admin_page_rules(by, user, None, "register_ukey")
        _separation(user, user.role, user.mobile, fingerprint)
        user.ukey_public_key = public_key_from(pem).to_pem().decode()  # a certificate is kept as its key
        user.ukey_fingerprint = fingerprint
        seal(user)
        audit.record(
            "user.register_ukey",
            object_type="user",
            object_id=user.username,
            details={"key": fingerprint, **_flag(user)},
        )
    return user


def _end_sessions(user_id: int, reason: str) -> None:
    sessions = db.session.execute(
        select(StaffSession).where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
    ).scalars()
    now = utcnow()
    for row in sessions:
        row.ended_at, row.end_reason = now, reason


def change_own_password(settings: Any, user_id: int, current: str, new: str, confirm: str) -> None:
    """The signed-in user changes their password: the current one, the policy, no reuse of recent ones."""
    from processes.auth_passwords import reused

    with transaction():
        user = get_user(user_id)
        if not check_password(current, user.password_hash):
            audit.record("auth.password_change", result="fail", object_type="user", object_id=user.username)
            failed = True
        else:
            failed = False
    if failed:
        raise ValidationFailed("PASSWORD_WRONG", "当前密码不正确", {"fields": {"current_password": "当前密码不正确"}})
    if new != confirm:
        raise ValidationFailed("PASSWORD_MISMATCH", "两次输入的新密码不一致", {"fields": {"confirm": "不一致"}})
    check_policy(settings, new, user.username)
    with transaction():
        user = get_user(user_id)
        if reused(settings, user, new):
            raise ValidationFailed(
                "PASSWORD_REUSED",
                f"新密码不能与最近{settings.PASSWORD_HISTORY}次使用过的密码相同",
                {"fields": {"new_password": "与近期密码相同"}},
            )
        set_password(settings, user, new)
        seal(user)
        audit.record("auth.password_change", object_type="user", object_id=user.username)
