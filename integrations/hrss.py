"""Client of the municipal HRSS (人社局) social-insurance service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from integrations.errors import PermanentError
from integrations.http import JsonHttpClient


@dataclass(frozen=True)
class ContributionMonth:
    """One month of the contribution history."""

    month: str  # YYYY-MM
    paid: bool
    employer: str


@dataclass(frozen=True)
class InsuranceStatus:
    """A person's insured status as of a date."""

    insured: bool
    status: str  # active | suspended | none
    consecutive_months: int
    history: tuple[ContributionMonth, ...]
    as_of: str


class HrssClient(JsonHttpClient):
    """Typed operations on the HRSS social-insurance interface."""

    system = "hrss"

    def insurance_status(
        self, id_number: str, name: str, as_of: date | str, business_key: str | None = None
    ) -> InsuranceStatus:
        """Insured status, monthly contribution history and consecutive months up to `as_of`."""
        body = {"id_number": id_number, "name": name, "as_of": str(as_of)}
        return self.call(
            "insurance_status",
            "POST",
            "/v1/insurance/status",
            body=body,
            business_key=business_key,
            parse=self._parse_status,
            required=("insured", "status", "consecutive_months", "history", "as_of"),
        )

    def _parse_status(self, data: dict) -> InsuranceStatus:
        try:
            history = tuple(
                ContributionMonth(str(m["month"]), bool(m["paid"]), str(m.get("employer", ""))) for m in data["history"]
            )
            months = int(data["consecutive_months"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentError("MALFORMED_RESPONSE", "hrss history is malformed", system=self.system) from exc
        if months < 0:
            raise PermanentError("MALFORMED_RESPONSE", "hrss consecutive_months is negative", system=self.system)
        return InsuranceStatus(bool(data["insured"]), str(data["status"]), months, history, str(data["as_of"]))
