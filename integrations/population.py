"""Client of the population office's death list (死亡表), for deregistration and SMS blocking (A3, C1.3)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from integrations.errors import PermanentError
from integrations.http import JsonHttpClient
from integrations.responses import call_as

PAGE_SIZE_MAX = 200  # the feed refuses larger pages


@dataclass(frozen=True)
class Death:
    """A deceased person as the population office recorded them."""

    id_number: str
    name: str
    date_of_death: str
    reported_on: str  # the day the office recorded the death: what `since` filters on


@dataclass(frozen=True)
class DeathPage:
    """One page of the feed."""

    items: tuple[Death, ...]
    page: int
    page_size: int
    total: int
    has_more: bool


class PopulationClient(JsonHttpClient):
    """Typed operations on the population office's death-list feed."""

    system = "population"

    def deaths_page(
        self, since: date | str, *, page: int = 1, page_size: int = 100, business_key: str | None = None
    ) -> DeathPage:
        """One page of the deaths recorded on or after `since`."""
        if page < 1 or not 1 <= page_size <= PAGE_SIZE_MAX:
            raise ValueError(f"page must be ≥ 1 and page_size from 1 to {PAGE_SIZE_MAX}")
        # Only a date and page numbers go into the URL: no personal data.
        query = urlencode({"since": str(since), "page": page, "page_size": page_size})
        return call_as(self, DeathPage, "deaths_page", "GET", f"/v1/deaths?{query}", business_key=business_key)

    def deaths_since(
        self, since: date | str, *, page_size: int = 100, business_key: str | None = None
    ) -> Iterator[Death]:
        """Every death recorded on or after `since`, page by page (one call per page)."""
        page = 1
        while True:
            result = self.deaths_page(since, page=page, page_size=page_size, business_key=business_key)
            yield from result.items
            if not result.has_more:
                return
            if not result.items or page * page_size >= result.total:
                # A feed that claims more but sends nothing would make us loop forever.
                raise PermanentError("MALFORMED_RESPONSE", "population feed pages are inconsistent", system=self.system)
            page += 1
