"""Contract tests of the population office's death-list client against the simulators (A3, C1.3, C3.1)."""

from __future__ import annotations

import pytest

from integrations.errors import PermanentError
from integrations.population import Death, PopulationClient
from integrations.simulators.dataset import death_record


def _expected(people, since: str) -> list[Death]:
    deaths = [Death(p.id_number, p.name, *death_record(p)) for p in people if p.deceased]
    return sorted((d for d in deaths if d.reported_on >= since), key=lambda d: (d.reported_on, d.id_number))


def test_a3_death_list_is_exactly_the_deceased(sim, people):
    client, records = sim.client(PopulationClient, "/population")
    deaths = list(client.deaths_since("2000-01-01", page_size=4, business_key="BK1"))
    assert deaths == _expected(people, "2000-01-01")
    assert {d.id_number for d in deaths} == {p.id_number for p in people if p.deceased}
    assert [(r.operation, r.status, r.business_key) for r in records] == [("deaths_page", "ok", "BK1")] * 2
    assert all(d.id_number not in repr(records) for d in deaths)


def test_a3_since_filters_on_the_recording_date(sim, people):
    client, _ = sim.client(PopulationClient, "/population")
    since = _expected(people, "2000-01-01")[3].reported_on
    page = client.deaths_page(since, page=1, page_size=2)
    later = _expected(people, since)
    assert (list(page.items), page.total, page.has_more) == (later[:2], len(later), len(later) > 2)
    assert client.deaths_page("2099-01-01").items == ()


def test_a3_page_bounds(sim):
    client, records = sim.client(PopulationClient, "/population")
    with pytest.raises(ValueError):
        client.deaths_page("2024-01-01", page_size=201)
    with pytest.raises(PermanentError) as info:
        client.deaths_page("2024-13-01")
    assert (info.value.code, info.value.status) == ("INVALID_DATE", 400)
    assert len(records) == 1


def test_population_fault_contract(contract, fault_kind, people):
    contract.check(
        fault_kind,
        PopulationClient,
        "/population",
        endpoint="population.deaths",
        operation="deaths_page",
        invoke=lambda c: c.deaths_page("2000-01-01", business_key=contract.key),
        missing="has_more",
        secrets=tuple(p.id_number for p in people if p.deceased),
    )
