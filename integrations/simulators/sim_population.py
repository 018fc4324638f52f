"""Population-office simulator: the death-list feed (死亡表), paginated."""

from __future__ import annotations

from typing import Any

from flask import request

from integrations.simulators import common
from integrations.simulators.app import _guarded
from integrations.simulators.dataset import death_record

blueprint = common.blueprint("sim_population", "/population")

PAGE_SIZE_MAX = 200


def deaths(since: str) -> list[dict[str, Any]]:
    """Deceased persons recorded on or after `since` (YYYY-MM-DD), in recording order."""
    items = []
    for person in common.persons():
        record = death_record(person)
        if record is not None and record[1] >= since:
            items.append(
                {
                    "id_number": person.id_number,
                    "name": person.name,
                    "date_of_death": record[0],
                    "reported_on": record[1],
                }
            )
    return sorted(items, key=lambda item: (item["reported_on"], item["id_number"]))


@blueprint.get("/v1/deaths")
def death_list() -> Any:
    """One page of deaths recorded since a date: ?since=YYYY-MM-DD&page=1&page_size=100."""
    since = common.iso_date(request.args.get("since"), "since").isoformat()
    page = common.integer(request.args.get("page", "1"), "page", 1, 100_000)
    page_size = common.integer(request.args.get("page_size", "100"), "page_size", 1, PAGE_SIZE_MAX)
    items = deaths(since)
    start = (page - 1) * page_size
    return _guarded(
        "population.deaths",
        {
            "items": items[start : start + page_size],
            "page": page,
            "page_size": page_size,
            "total": len(items),
            "has_more": start + page_size < len(items),
        },
    )
