"""Contract tests of the housing-data client against the simulators (B1.1, B1.2, A2, C3.1)."""

from __future__ import annotations

import pytest

from integrations.errors import PermanentError
from integrations.housing import House, HousingClient
from integrations.simulators.dataset import HOUSED_PERSONS, house_of, houses, registered_on


def _first(legality: str):
    return next(h for h in houses() if h.legality == legality)


@pytest.mark.parametrize("legality", ["legal", "illegal", "unknown"])
def test_b1_house_by_code_and_by_id_match_the_dataset(sim, legality):
    client, records = sim.client(HousingClient, "/housing")
    expected = _first(legality)
    by_code = client.house(address_code=expected.address_code, business_key="BK1")
    by_id = client.house(house_id=expected.house_id)
    assert (
        by_code
        == by_id
        == House(
            expected.house_id,
            expected.address_code,
            expected.address,
            expected.district,
            expected.property_status,
            len(expected.occupants),
            legality,
            expected.stability_rating,
            expected.area_m2,
        )
    )
    assert [(r.operation, r.status, r.business_key) for r in records] == [("house", "ok", "BK1"), ("house", "ok", None)]


def test_b1_stability_rating_follows_legality_and_property(sim):
    client, _ = sim.client(HousingClient, "/housing")
    ratings = {
        (h.legality, h.property_status): client.house(house_id=h.house_id).stability_rating for h in houses()[:15]
    }
    assert ratings[("legal", "owned")] == "A" and ratings[("legal", "leased")] == "B"
    assert {r for (legality, _), r in ratings.items() if legality == "illegal"} == {"C"}
    assert {r for (legality, _), r in ratings.items() if legality == "unknown"} == {"unrated"}


def test_b1_fuzzy_search_is_bounded_and_matches(sim):
    client, _ = sim.client(HousingClient, "/housing")
    on_road = [h for h in houses() if "张杨路" in h.address]
    result = client.search("张杨路", limit=5)
    assert (result.total, result.truncated, len(result.candidates)) == (len(on_road), True, 5)
    assert [c.house_id for c in result.candidates] == [h.house_id for h in on_road[:5]]
    exact = client.search(on_road[2].address)
    assert (exact.total, exact.truncated) == (1, False)
    assert exact.candidates[0].address_code == on_road[2].address_code


def test_b1_occupants_are_persons_of_the_population(sim, people):
    client, records = sim.client(HousingClient, "/housing")
    house = next(h for h in houses() if len(h.occupants) == 4)
    occupants = client.occupants(house.house_id)
    assert [(o.id_number, o.name, o.registered_on) for o in occupants] == [
        (people[i].id_number, people[i].name, registered_on(i)) for i in house.occupants
    ]
    first = "owner" if house.property_status == "owned" else "tenant"
    assert [o.role for o in occupants] == [first, "co_resident", "co_resident", "co_resident"]
    assert all(people[i].id_number not in repr(records) for i in house.occupants)
    assert all(house_of(i) == house for i in house.occupants)


def test_every_person_has_one_house_or_none(people):
    housed = [i for h in houses() for i in h.occupants]
    assert sorted(housed) == list(range(HOUSED_PERSONS))  # each housed person in exactly one house
    assert all(house_of(p.index) is None for p in people[HOUSED_PERSONS:])


def test_b1_unknown_house_and_short_query_are_refused(sim):
    client, records = sim.client(HousingClient, "/housing")
    with pytest.raises(PermanentError) as missing:
        client.house(house_id="HS999999")
    with pytest.raises(PermanentError) as short:
        client.search("张")
    assert (missing.value.code, missing.value.status) == ("HOUSE_NOT_FOUND", 404)
    assert (short.value.code, short.value.status) == ("QUERY_TOO_SHORT", 422)
    assert [(r.status, r.http_status, r.attempts) for r in records] == [
        ("HOUSE_NOT_FOUND", 404, 1),
        ("QUERY_TOO_SHORT", 422, 1),
    ]


def test_house_needs_exactly_one_key(sim):
    client, records = sim.client(HousingClient, "/housing")
    with pytest.raises(ValueError):
        client.house(address_code="1", house_id="2")
    with pytest.raises(ValueError):
        client.search("张杨路", limit=21)
    assert records == []


def test_housing_fault_contract(contract, fault_kind):
    house = houses()[0]
    contract.check(
        fault_kind,
        HousingClient,
        "/housing",
        endpoint="housing.house",
        operation="house",
        invoke=lambda c: c.house(address_code=house.address_code, business_key=contract.key),
        missing="legality",
    )


@pytest.mark.parametrize(
    ("endpoint", "operation", "missing"),
    [("housing.search", "search", "truncated"), ("housing.occupants", "occupants", "occupants")],
)
def test_housing_missing_field_per_operation(contract, people, endpoint, operation, missing):
    house = houses()[0]
    invoke = {
        "search": lambda c: c.search("张杨路", business_key=contract.key),
        "occupants": lambda c: c.occupants(house.house_id, business_key=contract.key),
    }[operation]
    contract.check(
        "missing_field",
        HousingClient,
        "/housing",
        endpoint=endpoint,
        operation=operation,
        invoke=invoke,
        missing=missing,
        secrets=tuple(people[i].id_number for i in house.occupants),
    )
