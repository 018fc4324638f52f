"""Housing-data simulator: exact house look-up, fuzzy address search and the occupants of a house."""

from __future__ import annotations

from typing import Any

from integrations.simulators import common
from integrations.simulators.app import _guarded
from integrations.simulators.common import Invalid
from integrations.simulators.dataset import House, houses, registered_on

blueprint = common.blueprint("sim_housing", "/housing")

SEARCH_LIMIT_MAX = 20


def house_json(house: House) -> dict[str, Any]:
    """A house as the housing data describes it."""
    return {
        "house_id": house.house_id,
        "address_code": house.address_code,
        "address": house.address,
        "district": house.district,
        "property_status": house.property_status,
        "occupant_count": len(house.occupants),
        "legality": house.legality,
        "stability_rating": house.stability_rating,
        "area_m2": house.area_m2,
    }


def _find(house_id: str = "", address_code: str = "") -> House:
    found = next((h for h in houses() if h.house_id == house_id or h.address_code == address_code), None)
    if found is None:
        raise Invalid("HOUSE_NOT_FOUND", "no house with that id or address code", 404)
    return found


@blueprint.post("/v1/houses/lookup")
def lookup_house() -> Any:
    """One house by its full address code or its unique id (exactly one of them)."""
    body = common.json_body()
    house_id = common.text(body, "house_id", max_len=20, required=False)
    address_code = common.text(body, "address_code", max_len=30, required=False)
    if bool(house_id) == bool(address_code):
        raise Invalid("ONE_KEY_REQUIRED", "give exactly one of house_id and address_code", 400)
    return _guarded("housing.house", house_json(_find(house_id, address_code)))


@blueprint.post("/v1/houses/search")
def search_houses() -> Any:
    """Houses whose address contains the partial address, at most `limit` of them."""
    body = common.json_body()
    query = common.text(body, "query", max_len=60).strip()
    if len(query) < 2:
        raise Invalid("QUERY_TOO_SHORT", "the partial address needs at least 2 characters", 422)
    limit = common.integer(body.get("limit", 10), "limit", 1, SEARCH_LIMIT_MAX)
    matches = [h for h in houses() if query in h.address]
    return _guarded(
        "housing.search",
        {
            "candidates": [
                {"house_id": h.house_id, "address_code": h.address_code, "address": h.address} for h in matches[:limit]
            ],
            "total": len(matches),
            "truncated": len(matches) > limit,
        },
    )


@blueprint.get("/v1/houses/<house_id>/occupants")
def house_occupants(house_id: str) -> Any:
    """The persons registered as living in a house; the first is its owner or tenant."""
    house = _find(house_id=house_id)
    everyone = common.persons()
    first_role = "owner" if house.property_status == "owned" else "tenant"
    occupants = [
        {
            "id_number": everyone[i].id_number,
            "name": everyone[i].name,
            "role": first_role if n == 0 else "co_resident",
            "registered_on": registered_on(i),
        }
        for n, i in enumerate(house.occupants)
    ]
    return _guarded("housing.occupants", {"house_id": house.house_id, "occupants": occupants, "count": len(occupants)})
