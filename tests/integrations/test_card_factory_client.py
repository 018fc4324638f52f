"""Contract tests of the card-factory client against the simulators (C2.1, C2.2, C4.1)."""

from __future__ import annotations

import pytest

from integrations.card_factory import CardFactoryClient, CardRecord
from integrations.crypto import sm3_hex
from integrations.errors import PermanentError


def _card(person, permit_no: str, *, name: str | None = None, rare_ready: bool = False) -> CardRecord:
    return CardRecord(permit_no, person.id_number, name or person.name, sm3_hex(permit_no), "2027-06-30", rare_ready)


def test_c2_export_and_import_results_per_branch(sim, people):
    client, records = sim.client(CardFactoryClient, "/card-factory")
    rare = next(p for p in people if p.rare_name and p.index % 12 not in (5, 11))
    cards = [
        _card(people[0], "P-0"),
        _card(rare, "P-rare"),
        _card(rare, "P-rare-ready", rare_ready=True),
        _card(people[5], "P-photo"),
        _card(people[1], "P-name", name="错名"),
    ]
    receipt = client.export_batch("BATCH-2026-001", cards)
    assert (receipt.batch_ref, receipt.accepted, receipt.duplicate) == ("BATCH-2026-001", 5, False)
    results = client.batch_results(receipt.batch_id)
    by_permit = {r.permit_no: r for r in results.results}
    assert (results.status, results.made, results.failed) == ("completed", 2, 3)
    assert by_permit["P-0"].outcome == by_permit["P-rare-ready"].outcome == "made"
    assert by_permit["P-0"].card_no and by_permit["P-0"].reason is None
    assert by_permit["P-rare"].reason == "姓名含生僻字，字库尚未预处理"
    assert by_permit["P-photo"].reason == "照片不符合制证要求"  # index % 12 == 5: the photo fails review
    assert by_permit["P-name"].reason == "姓名与身份信息不一致"
    assert records[0].business_key == "BATCH-2026-001"
    assert all(c.id_number not in repr(records) for c in cards)


def test_c2_export_is_idempotent_on_the_batch_ref(sim, people):
    client, _ = sim.client(CardFactoryClient, "/card-factory")
    cards = [_card(people[2], "P-2")]
    first = client.export_batch("BATCH-IDEM", cards, express=True)
    again = client.export_batch("BATCH-IDEM", cards, express=True)
    assert (again.batch_id, again.duplicate) == (first.batch_id, True)
    with pytest.raises(PermanentError) as info:
        client.export_batch("BATCH-IDEM", [_card(people[3], "P-3")])
    assert info.value.code == "IDEMPOTENCY_CONFLICT"


def test_c2_invalid_card_is_named(sim, people):
    client, _ = sim.client(CardFactoryClient, "/card-factory")
    bad = CardRecord("P-bad", "110101199001011234", "某人", sm3_hex(b"x"), "2027-06-30")
    with pytest.raises(PermanentError) as info:
        client.export_batch("BATCH-BAD", [_card(people[0], "P-ok"), bad])
    assert (info.value.code, info.value.status) == ("INVALID_CARD", 422)
    with pytest.raises(PermanentError) as unknown:
        client.batch_results("BATCH99999999")
    assert unknown.value.code == "NOT_FOUND"
    with pytest.raises(ValueError):
        client.export_batch("BATCH-EMPTY", [])


def test_card_factory_fault_contract(contract, fault_kind, people):
    person = people[0]
    contract.check(
        fault_kind,
        CardFactoryClient,
        "/card-factory",
        endpoint="card_factory.export",
        operation="export_batch",
        invoke=lambda c: c.export_batch(f"BATCH-F-{fault_kind}", [_card(person, "P-F")], business_key=contract.key),
        missing="batch_id",
        secrets=(person.id_number,),
    )


def test_card_factory_results_missing_field(contract, sim, people):
    setup, _ = sim.client(CardFactoryClient, "/card-factory")
    batch_id = setup.export_batch("BATCH-MISSING", [_card(people[0], "P-M")]).batch_id
    contract.check(
        "missing_field",
        CardFactoryClient,
        "/card-factory",
        endpoint="card_factory.results",
        operation="batch_results",
        invoke=lambda c: c.batch_results(batch_id, business_key=contract.key),
        missing="results",
    )
