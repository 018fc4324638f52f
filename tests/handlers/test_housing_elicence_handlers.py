"""A2/A5/A6 handlers against the simulators: housing check, e-licence materials, postal order, permit push."""

from __future__ import annotations

import pytest

from handlers.elicence import fetch_materials, push_permit
from handlers.housing import HOUSING_MATERIALS, check_residence
from handlers.postal import push_order
from handlers.registry import DispatchError, dispatch
from integrations.simulators.dataset import houses, population
from processes.platform import get_platform

TODAY = "2026-11-29"


@pytest.fixture
def clients(app):
    return get_platform(app).clients


@pytest.mark.parametrize(("legality", "stable"), [("legal", True), ("illegal", False), ("unknown", False)])
def test_a2_housing_check_by_address_code(clients, legality, stable):
    house = next(h for h in houses() if h.legality == legality)
    result = check_residence(housing=clients["housing"], address_code=house.address_code)
    assert (result["match"], result["stable"], result["house_id"]) == (legality, stable, house.house_id)
    assert result["materials"] == (HOUSING_MATERIALS if legality == "unknown" else [])
    if legality == "illegal":
        assert "违法建筑" in result["reason"]


@pytest.mark.parametrize("code", ["", "310115999999999999"])
def test_a2_housing_unknown_without_or_with_an_unmatched_address_code(clients, code):
    result = check_residence(housing=clients["housing"], address_code=code)
    assert result["match"] == "unknown" and result["materials"] == HOUSING_MATERIALS and result["reason"]


def _by_index(rule) -> object:
    return next(p for p in population() if rule(p.index))


def test_a5_licences_fill_the_form_and_list_nothing_to_bring(clients):
    p = _by_index(lambda i: i % 10 not in (3, 6))
    result = fetch_materials(elicence=clients["elicence"], id_number=p.id_number, name=p.name, on=TODAY)
    assert result["complete"] is True and result["materials_to_bring"] == []
    assert {"address", "household_address", "ethnicity"} <= set(result["filled"])
    assert {lic["type_code"] for lic in result["licences"]} >= {"id_card", "household_register"}


def test_a5_expired_id_card_is_listed_as_material_to_bring(clients):
    p = _by_index(lambda i: i % 10 == 6)
    result = fetch_materials(elicence=clients["elicence"], id_number=p.id_number, name=p.name, on=TODAY)
    assert result["complete"] is False
    assert result["materials_to_bring"] == ["居民身份证（电子证照已过期，请携带原件）"]
    assert "id_card" not in {lic["type_code"] for lic in result["licences"]}


def test_a5_no_licences_lists_both_required_ones(clients):
    p = _by_index(lambda i: i % 10 == 3)
    result = fetch_materials(elicence=clients["elicence"], id_number=p.id_number, name=p.name, on=TODAY)
    assert result["filled"] == {} and len(result["materials_to_bring"]) == 2
    assert all("未查到" in line for line in result["materials_to_bring"])


def test_a6_postal_order_is_idempotent_by_permit_number(clients):
    recipient = {
        "name": "王芳",
        "mobile": "13800000000",
        "district": "徐汇区",
        "address_detail": "田林路200号",
        "postcode": "200233",
    }
    first = push_order(postal=clients["postal"], permit_no="JZ-H-1", recipient=recipient)
    again = push_order(postal=clients["postal"], permit_no="JZ-H-1", recipient=recipient)
    assert first["waybill_no"] == again["waybill_no"] and again["duplicate"] is True


def test_a6_bad_postcode_is_a_permanent_failure(clients):
    recipient = {
        "name": "王芳",
        "mobile": "13800000000",
        "district": "徐汇区",
        "address_detail": "田林路200号",
        "postcode": "2002",
    }
    with pytest.raises(DispatchError) as failed:
        dispatch("postal.push_order", {"permit_no": "JZ-H-2", "recipient": recipient}, clients)
    assert failed.value.transient is False and failed.value.code == "INVALID_POSTCODE"


def test_a6_permit_elicence_push_and_repeat_is_a_duplicate(clients):
    p = population()[0]
    args = {
        "permit_no": "JZ-H-3",
        "id_number": p.id_number,
        "name": p.name,
        "valid_from": "2026-11-29",
        "valid_until": "2027-11-29",
        "photo_sm3": "a" * 64,
    }
    first = push_permit(elicence=clients["elicence"], **args)
    again = push_permit(elicence=clients["elicence"], **args)
    assert first["push_id"] and first["duplicate"] is False and again["duplicate"] is True


def test_a6_batch_still_in_production_is_transient_so_the_job_retries():
    from integrations.card_factory import BatchResults

    class Factory:  # the simulator finishes at once; a real factory answers "in production" for a while
        def batch_results(self, batch_id: str) -> BatchResults:
            return BatchResults(batch_id, "in_production", (), 0, 0)

    with pytest.raises(DispatchError) as pending:
        dispatch("card_factory.fetch_results", {"batch_id": "BATCH1"}, {"card_factory": Factory()})
    assert pending.value.transient is True and pending.value.code == "IN_PRODUCTION"
