"""Contract tests of the postal-service client against the simulators (B1.16)."""

from __future__ import annotations

import pytest

from integrations.errors import PermanentError
from integrations.postal import DeliveryOrder, PostalClient
from integrations.simulators.sim_postal import tracking_stage

STAGE_STATUSES = {
    0: ["accepted"],
    1: ["accepted", "in_transit"],
    2: ["accepted", "in_transit", "delivered"],
    3: ["accepted", "in_transit", "returned"],
}


def _order(person, order_ref: str, postcode: str = "200120") -> DeliveryOrder:
    return DeliveryOrder(
        order_ref,
        f"SHJZ-{order_ref}",
        person.name,
        person.mobile,
        "上海市",
        "上海市",
        "浦东新区",
        "张杨路100弄1号101室",
        postcode,
    )


def _ref_with_stage(stage: int) -> str:
    return next(ref for ref in (f"ORD-{n:04d}" for n in range(100)) if tracking_stage(ref) == stage)


def test_b1_push_order_and_track_every_stage(sim, people):
    client, records = sim.client(PostalClient, "/postal")
    person = people[0]
    for stage, statuses in STAGE_STATUSES.items():
        waybill = client.push_order(_order(person, _ref_with_stage(stage)))
        tracking = client.tracking(waybill.waybill_no)
        assert [e.status for e in tracking.events] == statuses and tracking.status == statuses[-1]
        assert tracking.waybill_no == waybill.waybill_no
        assert [e.at for e in tracking.events] == sorted(e.at for e in tracking.events)
    returned = client.tracking(client.push_order(_order(person, _ref_with_stage(3))).waybill_no)
    assert "退回" in returned.events[-1].description and returned.events[-1].location == "浦东新区投递部"
    assert all(person.mobile not in repr(r) for r in records)


def test_b1_order_is_idempotent_and_validated(sim, people):
    client, _ = sim.client(PostalClient, "/postal")
    first = client.push_order(_order(people[1], "ORD-IDEM"))
    again = client.push_order(_order(people[1], "ORD-IDEM"))
    assert (again.waybill_no, again.duplicate, first.duplicate) == (first.waybill_no, True, False)
    assert first.order_ref == "ORD-IDEM"
    with pytest.raises(PermanentError) as info:
        client.push_order(_order(people[1], "ORD-BAD", postcode="2001"))
    assert (info.value.code, info.value.status) == ("INVALID_POSTCODE", 400)
    with pytest.raises(PermanentError) as unknown:
        client.tracking("EMS199999999")
    assert unknown.value.code == "NOT_FOUND"


def test_postal_fault_contract(contract, fault_kind, people):
    person = people[2]
    contract.check(
        fault_kind,
        PostalClient,
        "/postal",
        endpoint="postal.order",
        operation="push_order",
        invoke=lambda c: c.push_order(_order(person, f"ORD-F-{fault_kind}"), business_key=contract.key),
        missing="waybill_no",
        secrets=(person.mobile,),
    )


def test_postal_tracking_missing_field(contract, sim, people):
    setup, _ = sim.client(PostalClient, "/postal")
    waybill_no = setup.push_order(_order(people[3], "ORD-TRACK")).waybill_no
    contract.check(
        "missing_field",
        PostalClient,
        "/postal",
        endpoint="postal.tracking",
        operation="tracking",
        invoke=lambda c: c.tracking(waybill_no, business_key=contract.key),
        missing="events",
    )
