"""Population-office handler: the death list behind system-detected deregistration (A3)."""

from __future__ import annotations

from typing import Any

from handlers.registry import operator
from integrations.population import PopulationClient

MAX_DEATHS = 5000  # one pass carries at most this many ID numbers in workflow data; the rest come next pass


@operator("population.deaths_since", clients=("population",), max_attempts=5, backoff_seconds=5.0)
def deaths_since(*, population: PopulationClient, since: str) -> dict[str, Any]:
    """ID numbers of the deaths recorded on or after `since`, and the day the next pass starts from."""
    ids: list[str] = []
    latest = since
    for death in population.deaths_since(since):
        if len(ids) >= MAX_DEATHS:
            break
        ids.append(death.id_number)
        latest = max(latest, death.reported_on)
    # The next pass starts on the latest day seen: that day is read again (a matched person is matched once).
    return {"id_numbers": ids, "count": len(ids), "next_since": latest}
