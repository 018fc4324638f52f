"""Contract tests of the e-licence library client against the simulators (A5, C2.4, C3.1)."""

from __future__ import annotations

import pytest

from integrations.crypto import sm3_hex
from integrations.elicence import ElicenceClient, PermitLicence
from integrations.errors import PermanentError
from integrations.simulators.dataset import licence_file, licences

PHOTO_SM3 = sm3_hex(b"photo")


def _permit(person, permit_no: str, name: str | None = None) -> PermitLicence:
    return PermitLicence(
        permit_no, person.id_number, name or person.name, "2026-01-01", "2027-01-01", "上海市公安局浦东分局", PHOTO_SM3
    )


def test_a5_valid_licences_match_the_dataset(sim, people):
    client, records = sim.client(ElicenceClient, "/elicence")
    person = people[0]  # index 0: ID card, household register, marriage and education
    result = client.licences(person.id_number, person.name, business_key="BK1")
    expected = licences(person)
    assert [(r.licence_no, r.type_code, r.issuer, r.issued_on, r.valid_until) for r in result] == [
        (e.licence_no, e.type_code, e.issuer, e.issued_on, e.valid_until) for e in expected
    ]
    assert {lic.type_name for lic in result} == {"居民身份证", "居民户口簿", "结婚证", "学历证书"}
    assert all(lic.status == "valid" and lic.holder_name == person.name for lic in result)
    assert dict(result[0].details) == dict(expected[0].details)
    assert person.id_number not in repr(records)


def test_a5_missing_and_expired_licences(sim, people):
    client, _ = sim.client(ElicenceClient, "/elicence")
    none, expired = people[3], people[6]
    assert client.licences(none.id_number, none.name) == ()
    held = [e.type_code for e in licences(expired)]  # index % 10 == 6: the ID card expired in 2023
    valid_only = client.licences(expired.id_number, expired.name)
    assert [lic.type_code for lic in valid_only] == held[1:]
    everything = client.licences(expired.id_number, expired.name, include_expired=True)
    assert [(lic.type_code, lic.status) for lic in everything] == [("id_card", "expired")] + [
        (code, "valid") for code in held[1:]
    ]


def test_a5_licence_file_is_verified_against_its_digest(sim, people):
    client, _ = sim.client(ElicenceClient, "/elicence")
    person = people[1]
    licence = licences(person)[0]
    fetched = client.licence_file(licence.licence_no, person.id_number)
    assert fetched.content == licence_file(licence) and fetched.sm3 == sm3_hex(fetched.content)
    assert (fetched.mime, fetched.licence.licence_no, fetched.licence.status) == (
        "application/pdf",
        licence.licence_no,
        "valid",
    )
    with pytest.raises(PermanentError) as other:
        client.licence_file(licence.licence_no, people[2].id_number)  # not the holder
    assert (other.value.code, other.value.status) == ("LICENCE_NOT_FOUND", 404)


def test_a5_name_mismatch_is_refused(sim, people):
    client, _ = sim.client(ElicenceClient, "/elicence")
    with pytest.raises(PermanentError) as info:
        client.licences(people[0].id_number, "张三丰")
    assert (info.value.code, info.value.status) == ("NAME_MISMATCH", 422)


def test_c2_push_permit_licence_and_status(sim, people):
    client, records = sim.client(ElicenceClient, "/elicence")
    alive, dead = people[0], next(p for p in people if p.deceased)
    receipt = client.push_permit(_permit(alive, "SHJZ-E-0001"))
    again = client.push_permit(_permit(alive, "SHJZ-E-0001"))
    assert (receipt.status, receipt.duplicate, again.duplicate, again.push_id) == (
        "received",
        False,
        True,
        receipt.push_id,
    )
    issued = client.push_status(receipt.push_id)
    assert (issued.status, issued.reason, issued.permit_no) == ("issued", None, "SHJZ-E-0001")
    assert issued.licence_no
    rejected = client.push_status(client.push_permit(_permit(dead, "SHJZ-E-0002")).push_id)
    assert (rejected.status, rejected.licence_no) == ("rejected", None) and "死亡" in rejected.reason
    wrong_name = client.push_status(client.push_permit(_permit(alive, "SHJZ-E-0003", "李四")).push_id)
    assert wrong_name.status == "rejected" and "姓名" in wrong_name.reason
    assert records[0].business_key == "SHJZ-E-0001"  # the permit number when no business key is given


def test_c2_push_reuse_with_other_content_conflicts(sim, people):
    client, _ = sim.client(ElicenceClient, "/elicence")
    client.push_permit(_permit(people[4], "SHJZ-E-0100"))
    with pytest.raises(PermanentError) as info:
        client.push_permit(_permit(people[5], "SHJZ-E-0100"))
    assert (info.value.code, info.value.status) == ("IDEMPOTENCY_CONFLICT", 409)


def test_elicence_fault_contract(contract, fault_kind, people):
    person = people[0]
    contract.check(
        fault_kind,
        ElicenceClient,
        "/elicence",
        endpoint="elicence.licences",
        operation="licences",
        invoke=lambda c: c.licences(person.id_number, person.name, business_key=contract.key),
        missing="licences",
        secrets=(person.id_number,),
    )


@pytest.mark.parametrize(
    ("endpoint", "operation", "missing"),
    [
        ("elicence.licence_file", "licence_file", "sm3"),
        ("elicence.push", "push_permit", "push_id"),
        ("elicence.push_status", "push_status", "status"),
    ],
)
def test_elicence_missing_field_per_operation(contract, sim, people, endpoint, operation, missing):
    person = people[10]
    setup, _ = sim.client(ElicenceClient, "/elicence")
    push_id = setup.push_permit(_permit(person, f"SHJZ-E-M-{operation}")).push_id
    invoke = {
        "licence_file": lambda c: c.licence_file(
            licences(person)[0].licence_no, person.id_number, business_key=contract.key
        ),
        "push_permit": lambda c: c.push_permit(_permit(person, "SHJZ-E-M-new"), business_key=contract.key),
        "push_status": lambda c: c.push_status(push_id, business_key=contract.key),
    }[operation]
    contract.check(
        "missing_field",
        ElicenceClient,
        "/elicence",
        endpoint=endpoint,
        operation=operation,
        invoke=invoke,
        missing=missing,
        secrets=(person.id_number,),
    )
