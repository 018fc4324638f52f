"""Staff sign-in (S2): password, then an SMS code or a UKey SM2 signature; lockout; server-side sessions.

Every outcome is audited. Failures of either factor count towards the lockout, so guessing an SMS code is
no easier than guessing a password. Tokens given to the browser are random; only their SM3 digests are stored.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from sqlalchemy import select

from integrations.crypto import CryptoError, SM2PublicKey, hmac_sm3, sm3_hex
from models import AppUser, LoginAttempt, StaffSession, db, utcnow
from processes import audit
from processes import auth_throttle as throttle
from processes.auth_integrity import alert, intact
from processes.auth_passwords import check_password, hash_password, password_expired
from processes.errors import Unauthorized, ValidationFailed
from processes.sms_messages import mask_mobile
from processes.unit_of_work import transaction

BAD_CREDENTIALS = "用户名或密码错误"
TAMPERED = "账号数据完整性校验未通过（疑似被篡改），已禁止登录并告警，请联系安全管理员"
TOUCH_EVERY = timedelta(seconds=30)  # write last_seen_at at most this often per session
_dummy_hash: str | None = None


def _dummy() -> str:
    """A throwaway hash for unknown usernames, made on first use (never PBKDF2 work at import time)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_hex(8))
    return _dummy_hash


class SignInRefused(Unauthorized):
    """A sign-in step failed; the message is safe to show (never says which of username/password was wrong)."""


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in between the password and the second factor."""

    token: str
    user_id: int
    username: str
    display_name: str
    nonce: str
    factors: tuple[str, ...]
    mobile_masked: str | None
    code_sent: bool


def _digest(token: str) -> str:
    return sm3_hex("permitflow-token:" + token)


def _who(user: AppUser | None, username: str) -> audit.AuditActor:
    ip = (audit.actor_context.get() or audit.SYSTEM_ACTOR).ip
    if user is None:
        return audit.AuditActor(username=username[:64] or None, ip=ip)
    return audit.AuditActor(user_id=user.id, username=user.username, role=user.role, ip=ip)


def _refuse(settings: Any, user_id: int | None, username: str, step: str, reason: str, message: str) -> NoReturn:
    """Count the failure (locking at the limit), audit it, commit, then refuse."""
    with transaction():
        user = db.session.get(AppUser, user_id, with_for_update=True) if user_id else None
        locked = False
        if user is not None and reason != "locked":
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= settings.LOGIN_MAX_FAILURES:
                user.locked_until = utcnow() + timedelta(minutes=settings.LOGIN_LOCK_MINUTES)
                user.failed_logins = 0
                locked = True
        actor = _who(user, username)
        audit.record("auth.login", result="fail", actor=actor, details={"step": step, "reason": reason})
        if locked:
            audit.record("auth.lockout", result="fail", actor=actor, details={"minutes": settings.LOGIN_LOCK_MINUTES})
    # A wrong password that locks the account answers like any other (the lock is shown only with the right
    # password); after a second-factor failure the user has already proved the password.
    if locked and step != "password":
        raise SignInRefused("ACCOUNT_LOCKED", f"连续失败次数过多，账号已锁定{settings.LOGIN_LOCK_MINUTES}分钟")
    raise SignInRefused("SIGN_IN_FAILED", message)


def _throttled(settings: Any, username: str, limit: str) -> NoReturn:
    audit.log("auth.login", result="denied", actor=_who(None, username), details={"reason": f"rate_{limit}"})
    raise throttle.TooManySignIns(
        "TOO_MANY_SIGN_INS", f"登录尝试过于频繁，请{max(1, settings.LOGIN_RATE_WINDOW_SECONDS // 60)}分钟后再试"
    )


def _lock_message(user: AppUser) -> str:
    local = user.locked_until.astimezone(_zone())
    return f"账号已锁定，请于{local:%H:%M}后再试，或联系安全管理员解锁"


def _zone():
    from processes.platform import get_platform

    return get_platform().settings.zone


def check_password_step(settings: Any, username: str, password: str) -> PendingLogin:
    """First factor: the password. Returns the pending sign-in for the second factor."""
    username = (username or "").strip().lower()[:64]
    ip = (audit.actor_context.get() or audit.SYSTEM_ACTOR).ip
    limit = throttle.admit(settings, ip, username)
    if limit is not None:  # before any hashing: a flood costs no PBKDF2 work
        _throttled(settings, username, limit)
    user = db.session.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        check_password(password or "", _dummy())  # same work as a real check: no username probing by timing
        _refuse(settings, None, username, "password", "unknown_or_inactive", BAD_CREDENTIALS)
    password_ok = check_password(password or "", user.password_hash)
    if user.locked_until is not None and user.locked_until > utcnow():
        # Only someone who knows the password learns that the account is locked.
        _refuse(
            settings, user.id, username, "password", "locked", _lock_message(user) if password_ok else BAD_CREDENTIALS
        )
    if not password_ok:
        _refuse(settings, user.id, username, "password", "bad_password", BAD_CREDENTIALS)
    if not intact(user):
        alert(user, "sign-in")
        _refuse(settings, None, username, "password", "integrity", TAMPERED)
    factors = available_factors(settings, user)
    if not factors:
        _refuse(settings, user.id, username, "password", "no_second_factor", "账号未登记手机号或UKey，请联系安全管理员")
    token = secrets.token_urlsafe(32)
    with transaction():
        db.session.add(
            LoginAttempt(
                token_digest=_digest(token),
                user_id=user.id,
                expires_at=utcnow() + timedelta(seconds=settings.LOGIN_STEP_SECONDS),
                nonce=secrets.token_hex(32),
                attempts=0,
            )
        )
        audit.record("auth.password_ok", actor=_who(user, username))
    return pending_login(settings, token)


def available_factors(settings: Any, user: AppUser) -> tuple[str, ...]:
    """The second factors this account can use (configured and registered)."""
    have = {"sms": bool(user.mobile), "ukey": bool(user.ukey_public_key)}
    return tuple(f for f in settings.login_factors if have[f])


def _attempt(settings: Any, token: str | None, lock: bool = False) -> tuple[LoginAttempt, AppUser]:
    if not token:
        raise SignInRefused("SIGN_IN_EXPIRED", "登录已超时，请重新输入用户名和密码")
    attempt = db.session.execute(
        select(LoginAttempt).where(LoginAttempt.token_digest == _digest(token)).with_for_update(of=LoginAttempt)
        if lock
        else select(LoginAttempt).where(LoginAttempt.token_digest == _digest(token))
    ).scalar_one_or_none()
    if attempt is None or attempt.done_at is not None or attempt.expires_at < utcnow():
        raise SignInRefused("SIGN_IN_EXPIRED", "登录已超时，请重新输入用户名和密码")
    user = db.session.get(AppUser, attempt.user_id)
    if user is None or not user.active:
        raise SignInRefused("SIGN_IN_EXPIRED", "登录已超时，请重新输入用户名和密码")
    if user.locked_until is not None and user.locked_until > utcnow():
        raise SignInRefused("ACCOUNT_LOCKED", _lock_message(user))
    return attempt, user


def pending_login(settings: Any, token: str | None) -> PendingLogin:
    """The pending sign-in of this browser, or 401 when there is none (expired, finished, unknown)."""
    attempt, user = _attempt(settings, token)
    result = PendingLogin(
        token=token or "",
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        nonce=attempt.nonce,
        factors=available_factors(settings, user),
        mobile_masked=mask_mobile(user.mobile) if user.mobile else None,
        code_sent=attempt.code_sent_at is not None,
    )
    db.session.rollback()
    return result


def _code_digest(settings: Any, attempt: LoginAttempt, code: str) -> str:
    # Keyed: a 6-digit code hashed without a key would fall to a 10^6 dictionary.
    return hmac_sm3(settings.SECRET_KEY.encode(), f"{attempt.token_digest}:{code}")


def send_login_code(platform: Any, token: str | None) -> str:
    """Send a fresh 6-digit code by SMS (VERIFY_CODE template); returns the masked mobile."""
    from processes.sms import request_sms
    from processes.stepping import Actor

    settings = platform.settings
    with transaction():
        attempt, user = _attempt(settings, token, lock=True)
        if "sms" not in available_factors(settings, user):
            raise ValidationFailed("SMS_NOT_AVAILABLE", "该账号不能使用短信验证码登录")
        now = utcnow()
        if attempt.code_sent_at and now - attempt.code_sent_at < timedelta(seconds=settings.LOGIN_CODE_RESEND_SECONDS):
            wait = settings.LOGIN_CODE_RESEND_SECONDS - int((now - attempt.code_sent_at).total_seconds())
            raise ValidationFailed("SMS_TOO_SOON", f"验证码已发送，请{wait}秒后再重新获取")
        code = f"{secrets.randbelow(10**6):06d}"
        attempt.code_digest = _code_digest(settings, attempt, code)
        attempt.code_sent_at, attempt.code_expires_at = now, now + timedelta(seconds=settings.LOGIN_CODE_TTL_SECONDS)
        attempt.attempts = 0
        request_sms(platform, "VERIFY_CODE", user.mobile, {"code": code}, actor=Actor("user", user.username))
        audit.record(
            "auth.sms_code_sent", actor=_who(user, user.username), details={"mobile": mask_mobile(user.mobile)}
        )
        masked = mask_mobile(user.mobile)
    return masked


def verify_sms_code(settings: Any, token: str | None, code: str) -> tuple[str, AppUser]:
    """Second factor by SMS code; returns (session token, user)."""
    with transaction():
        attempt, user = _attempt(settings, token, lock=True)
        problem = None
        if attempt.code_digest is None:
            problem = ("no_code", "请先获取短信验证码")
        elif attempt.code_expires_at < utcnow():
            problem = ("code_expired", "验证码已过期，请重新获取")
        elif attempt.attempts >= settings.LOGIN_CODE_MAX_ATTEMPTS:
            problem = ("code_used_up", "验证码错误次数过多，请重新获取")
        elif not hmac.compare_digest(_code_digest(settings, attempt, (code or "").strip()), attempt.code_digest):
            attempt.attempts += 1
            problem = ("bad_code", "验证码不正确")
        if problem is None:
            return _finish(attempt, user, "sms")
        user_id, username = user.id, user.username
    _refuse(settings, user_id, username, "sms", *problem)


def verify_ukey(settings: Any, token: str | None, signature_hex: str) -> tuple[str, AppUser]:
    """Second factor by UKey: an SM2 signature (DER, hex) of the challenge nonce by the registered key."""
    with transaction():
        attempt, user = _attempt(settings, token, lock=True)
        ok = False
        if "ukey" in available_factors(settings, user):
            try:
                from processes.users import ukey_fingerprint

                # The registered fingerprint must be that of the key we verify with (both are sealed too).
                if not hmac.compare_digest(ukey_fingerprint(user.ukey_public_key), user.ukey_fingerprint or ""):
                    raise ValueError("UKey key does not match its registered fingerprint")
                key = SM2PublicKey.from_pem(user.ukey_public_key)
                ok = key.verify(bytes.fromhex(attempt.nonce), bytes.fromhex((signature_hex or "").strip()))
            except (CryptoError, ValueError):
                ok = False
        if ok:
            return _finish(attempt, user, "ukey")
        user_id, username = user.id, user.username
    _refuse(settings, user_id, username, "ukey", "bad_signature", "UKey签名验证失败")


def _finish(attempt: LoginAttempt, user: AppUser, factor: str) -> tuple[str, AppUser]:
    """Both factors passed: a brand-new session (never a pre-login id), failures reset, audited."""
    now = utcnow()
    attempt.done_at = now
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    token = secrets.token_urlsafe(32)
    ip = (audit.actor_context.get() or audit.SYSTEM_ACTOR).ip
    db.session.add(
        StaffSession(
            token_digest=_digest(token), user_id=user.id, factor=factor, ip=ip, created_at=now, last_seen_at=now
        )
    )
    audit.record("auth.login", actor=_who(user, user.username), details={"factor": factor})
    return token, user


def complete_with_gateway(settings: Any, token: str, cert_pem: str) -> str | None:
    """Second factor by the security gateway (S3): it authenticated the user's UKey certificate.

    Accepted when the forwarded certificate key is the one registered for this account; else None and the
    user continues with the ordinary second factor.
    """
    from processes.users import ukey_fingerprint

    try:
        fingerprint = ukey_fingerprint(cert_pem) if cert_pem else None
    except (CryptoError, ValueError):
        fingerprint = None
    with transaction():
        attempt, user = _attempt(settings, token, lock=True)
        if fingerprint and user.ukey_fingerprint and hmac.compare_digest(fingerprint, user.ukey_fingerprint):
            session_token, _user = _finish(attempt, user, "gateway")
            return session_token
    return None


def load_session(settings: Any, token: str | None) -> tuple[AppUser, StaffSession] | None:
    """The live session of a cookie token; an idle one is ended (and audited) and gives None."""
    if not token:
        return None
    found = db.session.execute(
        select(StaffSession, AppUser)
        .join(AppUser, AppUser.id == StaffSession.user_id)
        .where(StaffSession.token_digest == _digest(token))
    ).first()
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if row.ended_at is not None or not user.active:
        db.session.rollback()
        return None
    if not intact(user):
        alert(user, "session")
        with transaction():
            _end(row.id, now, "integrity")
            audit.record("auth.integrity", result="fail", actor=_who(user, user.username), details={"where": "session"})
        return None
    if now - row.last_seen_at > timedelta(minutes=settings.SESSION_IDLE_MINUTES):
        with transaction():
            _end(row.id, now, "idle")
            audit.record(
                "auth.timeout", actor=_who(user, user.username), details={"idle_minutes": settings.SESSION_IDLE_MINUTES}
            )
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        with transaction():
            db.session.execute(
                StaffSession.__table__.update().where(StaffSession.id == row.id).values(last_seen_at=now)
            )
    else:
        db.session.rollback()
    return user, row


def _end(session_id: int, now, reason: str) -> None:
    with transaction():
        db.session.execute(
            StaffSession.__table__.update()
            .where(StaffSession.id == session_id, StaffSession.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
        )


def end_session(token: str | None, reason: str = "logout") -> None:
    """End a session for good (logout): the cookie no longer works anywhere."""
    if not token:
        return
    with transaction():
        found = db.session.execute(
            select(StaffSession, AppUser)
            .join(AppUser, AppUser.id == StaffSession.user_id)
            .where(StaffSession.token_digest == _digest(token), StaffSession.ended_at.is_(None))
        ).first()
        if found is None:
            return
        row, user = found
        row.ended_at, row.end_reason = utcnow(), reason
        audit.record("auth.logout", actor=_who(user, user.username), details={"reason": reason})


def must_change_password(settings: Any, user: AppUser) -> bool:
    """True when the user may do nothing but change their password."""
    return password_expired(settings, user)
