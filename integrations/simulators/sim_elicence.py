"""E-licence library (电子证照库) simulator: licences, licence files and permit e-licence pushes."""

from __future__ import annotations

from datetime import date
from typing import Any

from integrations.crypto import sm3_hex
from integrations.simulators import common
from integrations.simulators.app import _guarded
from integrations.simulators.common import Invalid
from integrations.simulators.dataset import LICENCE_TYPES, LicenceRecord, Person, licence_file, licences

blueprint = common.blueprint("sim_elicence", "/elicence")


def licence_json(person: Person, licence: LicenceRecord, today: date) -> dict[str, Any]:
    """A licence as the library describes it (status as of today)."""
    expired = licence.valid_until is not None and date.fromisoformat(licence.valid_until) < today
    return {
        "licence_no": licence.licence_no,
        "type_code": licence.type_code,
        "type_name": LICENCE_TYPES[licence.type_code],
        "holder_name": person.name,
        "issuer": licence.issuer,
        "issued_on": licence.issued_on,
        "valid_until": licence.valid_until,
        "status": "expired" if expired else "valid",
        "details": dict(licence.details),
    }


@blueprint.post("/v1/licences/query")
def query_licences() -> Any:
    """The person's licences: valid ones, and expired ones too when include_expired is true."""
    body = common.json_body()
    person = common.lookup(common.id_number(body), common.text(body, "name", max_len=50))
    include_expired = common.flag(body, "include_expired")
    today = date.today()
    items = [licence_json(person, licence, today) for licence in (licences(person) if person else ())]
    items = [item for item in items if include_expired or item["status"] == "valid"]
    return _guarded("elicence.licences", {"licences": items, "count": len(items)})


@blueprint.post("/v1/licences/file")
def fetch_licence_file() -> Any:
    """One licence of the holder with its file; another holder's licence number is simply not found."""
    body = common.json_body()
    licence_no = common.text(body, "licence_no", max_len=32)
    person = common.lookup(common.id_number(body))
    held = licences(person) if person else ()
    licence = next((lic for lic in held if lic.licence_no == licence_no), None)
    if person is None or licence is None:
        raise Invalid("LICENCE_NOT_FOUND", "the holder has no such licence", 404)
    data = licence_file(licence)
    return _guarded(
        "elicence.licence_file",
        {
            "licence": licence_json(person, licence, date.today()),
            "file_name": f"{licence_no}.pdf",
            "mime": "application/pdf",
            "content": common.b64(data),
            "sm3": sm3_hex(data),
            "size": len(data),
        },
    )


@blueprint.post("/v1/pushes")
def push_permit() -> Any:
    """Receive a permit e-licence; the library checks the holder afterwards (see the push status)."""
    body = common.json_body()
    permit_no = common.text(body, "permit_no", max_len=32)
    id_no, name = common.id_number(body), common.text(body, "name", max_len=50)
    valid_from = common.iso_date(body.get("valid_from"), "valid_from")
    valid_until = common.iso_date(body.get("valid_until"), "valid_until")
    if valid_until <= valid_from:
        raise Invalid("INVALID_VALIDITY", "valid_until must be after valid_from", 422)
    common.text(body, "issuer", max_len=100)
    common.sm3_field(body, "photo_sm3")

    def create(push_id: str) -> dict[str, Any]:
        status, reason = _verdict(id_no, name)
        return {
            "id": push_id,
            "permit_no": permit_no,
            "status": status,
            "reason": reason,
            "licence_no": f"DZZZ09{push_id[-6:]}" if status == "issued" else None,
            "updated_at": common.now(),
        }

    # A re-endorsed permit is a new licence version: the reference includes the new end of validity.
    record, duplicate = common.store("elicence.pushes", "PUSH").remember(f"{permit_no}/{valid_until}", body, create)
    return _guarded(
        "elicence.push",
        {
            "push_id": record["id"],
            "permit_no": permit_no,
            "status": "received",
            "received_at": record["updated_at"],
            "duplicate": duplicate,
        },
    )


def _verdict(id_no: str, name: str) -> tuple[str, str | None]:
    person = common.lookup(id_no)
    if person is None:
        return "rejected", "身份信息核验未通过，请核对证件号码"
    if person.name != name:
        return "rejected", "姓名与身份信息不一致，请核对姓名（含生僻字）"
    if person.deceased:
        return "rejected", "持证人已登记死亡，不予制发电子证照"
    return "issued", None


@blueprint.get("/v1/pushes/<push_id>")
def push_status(push_id: str) -> Any:
    """Where a pushed permit e-licence stands: issued (with a licence number) or rejected (with a reason)."""
    record = common.store("elicence.pushes", "PUSH").get(push_id)
    return _guarded(
        "elicence.push_status",
        {
            "push_id": push_id,
            "permit_no": record["permit_no"],
            "status": record["status"],
            "reason": record["reason"],
            "licence_no": record["licence_no"],
            "updated_at": record["updated_at"],
        },
    )
