"""E-licence handlers: A5 retrieval that fills the application, and the permit e-licence push (A6)."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.registry import operator
from integrations.elicence import ElicenceClient, PermitLicence

# The licences a registration or permit application needs; anything missing or expired is brought in person.
REQUIRED = {"id_card": "居民身份证", "household_register": "居民户口簿"}
ISSUER = "上海市公安局"


@operator("elicence.fetch_materials", clients=("elicence",), max_attempts=5, backoff_seconds=2.0)
def fetch_materials(
    *, elicence: ElicenceClient, id_number: str, name: str, on: str, business_key: str = ""
) -> dict[str, Any]:
    """A5: the applicant's licences as form fields for the clerk; missing or expired ones as materials to bring."""
    found = elicence.licences(id_number, name, include_expired=True, business_key=business_key or None)
    day = date.fromisoformat(on)
    valid = {}
    for licence in found:
        expired = licence.status == "expired" or (
            licence.valid_until is not None and date.fromisoformat(licence.valid_until) < day
        )
        if not expired:
            valid[licence.type_code] = licence
    filled: dict[str, str] = {}
    for licence in valid.values():
        filled.update({key: str(value) for key, value in licence.details.items()})
    to_bring = []
    for code, label in REQUIRED.items():
        if code not in valid:
            expired_one = any(licence.type_code == code for licence in found)
            to_bring.append(f"{label}（电子证照{'已过期' if expired_one else '未查到'}，请携带原件）")
    return {
        "licences": [
            {
                "licence_no": lic.licence_no,
                "type_code": lic.type_code,
                "type_name": lic.type_name,
                "issuer": lic.issuer,
                "valid_until": lic.valid_until,
            }
            for lic in valid.values()
        ],
        "filled": filled,
        "materials_to_bring": to_bring,
        "complete": not to_bring,
    }


@operator("elicence.push_permit", clients=("elicence",), max_attempts=5, backoff_seconds=2.0)
def push_permit(
    *,
    elicence: ElicenceClient,
    permit_no: str,
    id_number: str,
    name: str,
    valid_from: str,
    valid_until: str,
    photo_sm3: str,
) -> dict[str, Any]:
    """Generate the permit e-licence and push it to the library (a repeated push is a duplicate, not an error)."""
    receipt = elicence.push_permit(
        PermitLicence(permit_no, id_number, name, valid_from, valid_until, ISSUER, photo_sm3)
    )
    return {"push_id": receipt.push_id, "status": receipt.status, "duplicate": receipt.duplicate}
