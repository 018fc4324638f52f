"""Resident ID numbers (GB 11643-1999): checksum, parsing and masking."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PATTERN = re.compile(r"^\d{17}[\dX]$")


def check_digit(first17: str) -> str:
    """The 18th character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def id_number_problem(value: str) -> str | None:
    """None when the ID number is valid; otherwise a Chinese description of what is wrong."""
    if not isinstance(value, str) or not _PATTERN.match(value):
        return "身份证号码应为18位，前17位为数字，末位为数字或X"
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "身份证号码中的出生日期无效"
    if check_digit(value[:17]) != value[17]:
        return "身份证号码校验位错误"
    return None


def birth_date(value: str) -> date:
    """Birth date encoded in a valid ID number."""
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def gender(value: str) -> str:
    """'M' or 'F' from the sequence digit of a valid ID number."""
    return "M" if int(value[16]) % 2 else "F"


def mask(value: str | None) -> str:
    """Show the first 6 and last 4 characters only, for screens and logs."""
    if not value:
        return ""
    return value[:6] + "*" * max(0, len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def make(region: str, born: date, sequence: int) -> str:
    """Build a valid ID number (region code, birth date, 3-digit sequence)."""
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)
