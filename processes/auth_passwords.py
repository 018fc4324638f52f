"""Password policy (S2): complexity, expiry and no reuse of the last N, all from settings."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from models import AppUser, PasswordHistory, db, utcnow
from processes.errors import ValidationFailed

CLASS_LABELS = ("小写字母", "大写字母", "数字", "特殊符号")
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


def generate_password(settings: Any) -> str:
    """A random password that meets the policy (initial and reset passwords, demo data)."""
    length = max(settings.PASSWORD_MIN_LENGTH, 12)
    while True:
        body = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length - 2))
        candidate = "Pf" + body[:4] + "#" + body[4:]
        if not password_problems(settings, candidate):
            return candidate


def _classes(password: str) -> int:
    return sum(
        (
            any(c in string.ascii_lowercase for c in password),
            any(c in string.ascii_uppercase for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def password_problems(settings: Any, password: str, username: str = "") -> list[str]:
    """Every way a new password breaks the policy, in Chinese (empty when it is acceptable)."""
    problems: list[str] = []
    if len(password) < settings.PASSWORD_MIN_LENGTH:
        problems.append(f"密码长度至少{settings.PASSWORD_MIN_LENGTH}位")
    if len(password) > 128:
        problems.append("密码长度不能超过128位")
    if _classes(password) < settings.PASSWORD_MIN_CLASSES:
        problems.append(f"密码须包含{'、'.join(CLASS_LABELS)}中的至少{settings.PASSWORD_MIN_CLASSES}类")
    if username and username.lower() in password.lower():
        problems.append("密码不能包含用户名")
    if any(c.isspace() for c in password):
        problems.append("密码不能包含空格")
    return problems


def check_policy(settings: Any, password: str, username: str = "") -> None:
    """Raise 422 PASSWORD_POLICY listing the problems of a new password."""
    problems = password_problems(settings, password, username)
    if problems:
        raise ValidationFailed("PASSWORD_POLICY", "；".join(problems), {"fields": {"new_password": problems}})


def password_expired(settings: Any, user: AppUser) -> bool:
    """True when the password must be changed before any other work."""
    if user.must_change_password or user.password_changed_at is None:
        return True
    return utcnow() - user.password_changed_at > timedelta(days=settings.PASSWORD_MAX_AGE_DAYS)


def reused(settings: Any, user: AppUser, password: str) -> bool:
    """True when the password is the current one or one of the last PASSWORD_HISTORY ones."""
    if check_password(password, user.password_hash):
        return True
    if settings.PASSWORD_HISTORY <= 0:
        return False
    recent = db.session.execute(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .limit(settings.PASSWORD_HISTORY)
    ).scalars()
    return any(check_password(password, stored) for stored in recent)


def set_password(settings: Any, user: AppUser, password: str, *, must_change: bool = False) -> None:
    """Store a new password (in the caller's transaction), keeping the old hash in the history."""
    if user.password_hash:
        db.session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = must_change
