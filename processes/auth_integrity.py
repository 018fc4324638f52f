"""Integrity of authentication data (S1/S2): an HMAC-SM3 seal over each account's sign-in fields.

A role, password hash, scope or UKey key changed behind the application's back (SQL) no longer matches the
seal: sign-in is refused, live sessions end, and the refusal is audited and logged as an alert. Only this
package's services write those fields, and each write re-seals the row.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import UTC

from integrations.crypto import hmac_sm3
from models import AppUser
from processes.platform import get_platform

PURPOSE = "field-mac"
SEALED = (
    "username",
    "role",
    "password_hash",
    "district",
    "service_point",
    "mobile",
    "active",
    "must_change_password",
    "password_changed_at",
    "ukey_fingerprint",
    "ukey_public_key",
)
alert_log = logging.getLogger("permitflow.security")


def _message(user: AppUser) -> bytes:
    values = []
    for name in SEALED:
        value = getattr(user, name)
        if name == "password_changed_at" and value is not None:
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        values.append(value)
    return json.dumps(["app_user", *values], ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def seal(user: AppUser) -> None:
    """(Re)compute the account's seal after a legitimate change of its sign-in fields."""
    key = get_platform().keys.symmetric_key(PURPOSE)
    user.auth_mac = f"{key.key_id}${hmac_sm3(key.material, _message(user))}"


def intact(user: AppUser) -> bool:
    """True when the stored seal matches the account's sign-in fields (under the key id it names)."""
    stored = user.auth_mac or ""
    key_id, _, digest = stored.partition("$")
    if not key_id.startswith(PURPOSE + ":") or not digest:
        return False
    try:
        key = get_platform().keys.symmetric_key(PURPOSE, key_id)
    except Exception:  # an unknown key id is a failed check, not a crash
        return False
    return hmac.compare_digest(hmac_sm3(key.material, _message(user)), digest)


def alert(user: AppUser, where: str) -> None:
    """Log the integrity alert for operators (the audit record is written by the caller)."""
    alert_log.critical(
        "INTEGRITY ALERT: app_user id=%s (%s) failed its sign-in data check at %s",
        user.id,
        user.username,
        where,
        extra={"table": "app_user", "row_id": user.id, "reason": "auth_mac_mismatch"},
    )
