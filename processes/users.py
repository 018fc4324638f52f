"""Staff accounts: creation, role rules and password hashing (PBKDF2-HMAC-SM3)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select

from models import AppUser, db
from processes.errors import Conflict, ValidationFailed
from processes.roles import ROLES
from processes.unit_of_work import transaction

_ITERATIONS = 120_000


def hash_password(password: str) -> str:
    """A salted PBKDF2-HMAC-SM3 hash in 'pbkdf2_sm3$iterations$salt$hash' form."""
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sm3", password.encode("utf-8"), salt.encode(), _ITERATIONS).hex()
    return f"pbkdf2_sm3${_ITERATIONS}${salt}${digest}"


def check_password(password: str, stored: str) -> bool:
    """True when the password matches the stored hash (constant-time compare)."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sm3":
        return False
    candidate = hashlib.pbkdf2_hmac("sm3", password.encode("utf-8"), salt.encode(), int(iterations)).hex()
    return hmac.compare_digest(candidate, digest)


def upsert_user(
    username: str,
    display_name: str,
    role: str,
    password: str,
    service_point: str | None = None,
    district: str | None = None,
) -> AppUser:
    """Create a user, or reset an existing one's password and role (demo data)."""
    if role not in ROLES or role == "applicant":
        raise ValidationFailed("UNKNOWN_ROLE", f"未知角色 {role}")
    with transaction():
        user = db.session.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()
        if user is None:
            user = AppUser(username=username)
            db.session.add(user)
        elif user.role != role and user.role in ("sysadmin", "secadmin", "auditadmin"):
            raise Conflict("ADMIN_ROLE_SEPARATION", "三员角色不能兼任")
        user.display_name, user.role, user.password_hash = display_name, role, hash_password(password)
        user.service_point, user.district = service_point, district
    return user
