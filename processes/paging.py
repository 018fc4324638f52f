"""Page numbers from query strings: bounded, so that no offset can overflow a database integer."""

from __future__ import annotations

MAX_PAGE = 100_000


def page_or_first(raw: str | None) -> int:
    """A page number clamped to 1..MAX_PAGE; anything that is not a number is the first page."""
    try:
        return max(1, min(int(raw or 1), MAX_PAGE))
    except ValueError:
        return 1
