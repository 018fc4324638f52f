"""Client of the municipal e-licence library (电子证照库): licences as materials (A5, C2.4, C3.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import quote

from integrations.http import JsonHttpClient
from integrations.responses import build, build_all, call_as, decode_file, required_fields


@dataclass(frozen=True)
class Licence:
    """One e-licence and who issued it; `details` are the fields that can fill an application form."""

    licence_no: str
    type_code: str  # id_card | household_register | marriage | education | …
    type_name: str
    holder_name: str
    issuer: str
    issued_on: str
    valid_until: str | None  # None: valid without end (长期)
    status: str  # valid | expired
    details: Mapping[str, str]


@dataclass(frozen=True)
class LicenceFile:
    """A licence with its file, the content checked against the library's SM3 digest."""

    licence: Licence
    file_name: str
    mime: str
    content: bytes
    sm3: str


@dataclass(frozen=True)
class PermitLicence:
    """What we push to the library when a permit is issued or endorsed."""

    permit_no: str
    id_number: str
    name: str
    valid_from: str  # YYYY-MM-DD
    valid_until: str  # YYYY-MM-DD
    issuer: str
    photo_sm3: str


@dataclass(frozen=True)
class PushReceipt:
    """The library's receipt for a pushed permit e-licence (it checks the holder afterwards)."""

    push_id: str
    permit_no: str
    status: str  # received
    received_at: str
    duplicate: bool


@dataclass(frozen=True)
class PushStatus:
    """Where a pushed permit e-licence stands."""

    push_id: str
    permit_no: str
    status: str  # received | issued | rejected
    reason: str | None  # Chinese, for rejected pushes
    licence_no: str | None
    updated_at: str


class ElicenceClient(JsonHttpClient):
    """Typed operations on the e-licence library."""

    system = "elicence"

    def licences(
        self, id_number: str, name: str, *, include_expired: bool = False, business_key: str | None = None
    ) -> tuple[Licence, ...]:
        """The person's valid licences (and expired ones when asked), with issuer and validity."""
        data = self.call(
            "licences",
            "POST",
            "/v1/licences/query",
            body={"id_number": id_number, "name": name, "include_expired": include_expired},
            business_key=business_key,
            required=("licences", "count"),
        )
        return build_all(Licence, data["licences"], self.system)

    def licence_file(self, licence_no: str, id_number: str, *, business_key: str | None = None) -> LicenceFile:
        """One of the holder's licences with its file."""
        data = self.call(
            "licence_file",
            "POST",
            "/v1/licences/file",
            body={"licence_no": licence_no, "id_number": id_number},
            business_key=business_key,
            required=required_fields(LicenceFile),
        )
        return build(LicenceFile, data, self.system, content=decode_file(self.system, data["content"], data["sm3"]))

    def push_permit(self, permit: PermitLicence, *, business_key: str | None = None) -> PushReceipt:
        """Push a permit e-licence; pushing the same permit and validity again is answered as a duplicate."""
        return call_as(
            self,
            PushReceipt,
            "push_permit",
            "POST",
            "/v1/pushes",
            body=asdict(permit),
            business_key=business_key or permit.permit_no,
        )

    def push_status(self, push_id: str, *, business_key: str | None = None) -> PushStatus:
        """Whether a pushed permit e-licence was issued or rejected (and why)."""
        return call_as(
            self, PushStatus, "push_status", "GET", f"/v1/pushes/{quote(push_id, safe='')}", business_key=business_key
        )
