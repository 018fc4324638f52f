"""Client of the housing data: lawful stable residence (A2, A6, C3.1) and house queries (B1.1-2)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from integrations.http import JsonHttpClient
from integrations.responses import build_all, call_as

SEARCH_LIMIT_MAX = 20  # the housing data refuses larger pages


@dataclass(frozen=True)
class House:
    """A house: property status, how many live there, its legality and its stability rating."""

    house_id: str
    address_code: str
    address: str
    district: str
    property_status: str  # owned | leased | public
    occupant_count: int
    legality: str  # legal | illegal | unknown
    stability_rating: str  # A stable | B basically stable | C unstable | unrated
    area_m2: float


@dataclass(frozen=True)
class HouseCandidate:
    """One house a partial address may mean."""

    house_id: str
    address_code: str
    address: str


@dataclass(frozen=True)
class HouseSearch:
    """Candidates for a partial address; `truncated` when more houses matched than were returned."""

    candidates: tuple[HouseCandidate, ...]
    total: int
    truncated: bool


@dataclass(frozen=True)
class Occupant:
    """A person registered as living in a house."""

    id_number: str
    name: str
    role: str  # owner | tenant | co_resident
    registered_on: str


class HousingClient(JsonHttpClient):
    """Typed operations on the housing data."""

    system = "housing"

    def house(
        self, *, address_code: str | None = None, house_id: str | None = None, business_key: str | None = None
    ) -> House:
        """One house by its full address code or its unique id (give exactly one)."""
        if (address_code is None) == (house_id is None):
            raise ValueError("give exactly one of address_code and house_id")
        body = {"address_code": address_code} if address_code is not None else {"house_id": house_id}
        return call_as(self, House, "house", "POST", "/v1/houses/lookup", body=body, business_key=business_key)

    def search(self, partial_address: str, *, limit: int = 10, business_key: str | None = None) -> HouseSearch:
        """Houses whose address contains the partial address (at most `limit`, 1-20)."""
        if not 1 <= limit <= SEARCH_LIMIT_MAX:
            raise ValueError(f"limit must be from 1 to {SEARCH_LIMIT_MAX}")
        return call_as(
            self,
            HouseSearch,
            "search",
            "POST",
            "/v1/houses/search",
            body={"query": partial_address, "limit": limit},
            business_key=business_key,
        )

    def occupants(self, house_id: str, *, business_key: str | None = None) -> tuple[Occupant, ...]:
        """The persons registered in a house; the first is its owner or tenant."""
        data = self.call(
            "occupants",
            "GET",
            f"/v1/houses/{quote(house_id, safe='')}/occupants",
            business_key=business_key,
            required=("house_id", "occupants", "count"),
        )
        return build_all(Occupant, data["occupants"], self.system)
