"""Contract tests of the MCA 3.0 outbound-notice client against the simulators (A3, B1.5, B1.16)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from integrations.errors import PermanentError
from integrations.mca_notify import McaNotifyClient, Notice


def _notice(person, notice_id: str, notice_type: str = "issuance", office: str = "浦东受理中心") -> Notice:
    return Notice(
        notice_id,
        notice_type,
        "JZZ-2026-000123",
        person.id_number,
        person.name,
        "2026-03-01T10:00:00+08:00",
        {"issuing_office": office, "pickup": "窗口领取"},
    )


def test_b1_issuance_notice_is_received_once(sim, people):
    client, records = sim.client(McaNotifyClient, "/mca")
    person = people[0]
    receipt = client.notify(_notice(person, "N-0001"))
    again = client.notify(_notice(person, "N-0001"))
    assert (receipt.notice_id, receipt.duplicate, again.duplicate) == ("N-0001", False, True)
    assert again.receipt_no == receipt.receipt_no and receipt.received_at
    assert records[0].business_key == "JZZ-2026-000123"  # the business number when no key is given
    assert person.id_number not in repr(records)


@pytest.mark.parametrize("notice_type", ["production", "temp_card_return", "deregistration"])
def test_b1_other_notice_types(sim, people, notice_type):
    client, _ = sim.client(McaNotifyClient, "/mca")
    assert not client.notify(_notice(people[1], f"N-{notice_type}", notice_type)).duplicate


def test_b1_notice_conflict_and_validation(sim, people):
    client, _ = sim.client(McaNotifyClient, "/mca")
    client.notify(_notice(people[2], "N-CONFLICT"))
    with pytest.raises(PermanentError) as conflict:
        client.notify(_notice(people[2], "N-CONFLICT", office="徐汇区受理中心"))
    assert (conflict.value.code, conflict.value.status) == ("IDEMPOTENCY_CONFLICT", 409)
    bad_id = Notice("N-BAD", "issuance", "JZZ-1", "110101199001011234", "某人", "2026-03-01T10:00:00")
    with pytest.raises(PermanentError) as invalid:
        client.notify(bad_id)
    assert (invalid.value.code, invalid.value.status) == ("INVALID_ID", 400)
    with pytest.raises(ValueError):
        client.notify(replace(_notice(people[2], "N-X"), notice_type="party"))


def test_mca_fault_contract(contract, fault_kind, people):
    person = people[3]
    contract.check(
        fault_kind,
        McaNotifyClient,
        "/mca",
        endpoint="mca.notify",
        operation="notify",
        invoke=lambda c: c.notify(_notice(person, f"N-F-{fault_kind}"), business_key=contract.key),
        missing="receipt_no",
        secrets=(person.id_number,),
    )
