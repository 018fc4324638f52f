"""What text the system accepts from outside: anything it can store and search in either database."""

from __future__ import annotations


def storable(value: str) -> bool:
    """True when a text can be stored and searched: no NUL (PostgreSQL text cannot hold one), valid UTF-8."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True
