"""Page numbers from query strings: bounded, so that no offset can overflow a database integer."""

from __future__ import annotations

from collections.abc import Mapping

from processes.errors import BadRequest

MAX_PAGE = 100_000


def page_or_first(raw: str | None) -> int:
    """A page number clamped to 1..MAX_PAGE; anything that is not a number is the first page."""
    try:
        return max(1, min(int(raw or 1), MAX_PAGE))
    except ValueError:
        return 1


def page_and_size(args: Mapping[str, str], choices: tuple[int, ...]) -> tuple[int, int]:
    """page (1..MAX_PAGE) and per_page (one of `choices`) from a query string; 400 BAD_PAGING otherwise."""
    try:
        page = int(args.get("page") or 1)
        per_page = int(args.get("per_page") or 20)
    except ValueError as exc:
        raise BadRequest("BAD_PAGING", "页码和每页条数应为正整数", {"field": "page"}) from exc
    if page < 1 or page > MAX_PAGE or per_page not in choices:
        raise BadRequest("BAD_PAGING", f"页码应 ≥ 1，每页条数只能是 {'、'.join(map(str, choices))}")
    return page, per_page
