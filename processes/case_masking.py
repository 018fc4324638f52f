"""Case data for display: personal identifiers masked (unless the viewer may and asks to unmask), secrets hidden."""

from __future__ import annotations

import re
from typing import Any

from integrations.idnumber import mask

# Keys whose values are personal identifiers: masked on screen unless the viewer unmasks (audited).
SENSITIVE_KEYS = ("id_number", "mobile", "phone", "reporter_id_number")
# Keys holding a person's name: shown as the surname and asterisks until unmasked.
NAME_KEYS = ("name", "holder_name", "applicant_name", "reporter_name", "recipient_name")
# Workflow variables that are plumbing, not case facts.
HIDDEN_VARIABLES = ("store_root", "channel", "submitted_sms", "sms", "endorsed_sms", "reminder_sms", "dereg_sms")
ID_NUMBER_LIKE = re.compile(r"^\d{17}[\dXx]$")
# Keys holding secrets (the change-request token binding an instance to its request): always masked.
SECRET_WORDS = ("token", "secret", "password")
SECRET_MASK = "******"


def mask_value(key: str, value: Any) -> Any:
    """An identifier masked for display (ID numbers: first 6 and last 4; phones: first 3 and last 4)."""
    if not isinstance(value, str) or not value:
        return value
    if "mobile" in key or "phone" in key:
        return value[:3] + "****" + value[-4:] if len(value) >= 7 else "****"
    if key in NAME_KEYS:
        return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"
    return mask(value)


def secret_key(key: str) -> bool:
    """Variables holding secrets (a change request's instance token): never shown, not even unmasked."""
    return any(word in key.lower() for word in SECRET_WORDS)


def masked(data: Any, unmask: bool = False, key: str = "") -> Any:
    """A copy of case data with identifiers masked (recursively), unless unmask; secrets always masked."""
    if secret_key(key):
        return SECRET_MASK
    if isinstance(data, dict):
        return {k: masked(v, unmask, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [masked(v, unmask, key) for v in data]
    sensitive = any(word in key for word in SENSITIVE_KEYS) or key in NAME_KEYS
    if not unmask and (sensitive or (isinstance(data, str) and ID_NUMBER_LIKE.match(data))):
        return mask_value(key, data)
    return data


def case_variables(data: dict[str, Any], unmask: bool) -> list[tuple[str, Any]]:
    """The case's variables for display, plumbing left out, identifiers masked."""
    return [
        (k, masked(v, unmask, k))
        for k, v in sorted(data.items())
        if k not in HIDDEN_VARIABLES and not secret_key(str(k))
    ]
