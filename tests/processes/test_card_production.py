"""A6 card production (card_production.bpmn) and the permit state rules its operators enforce."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from handlers.registry import HandlerError
from models import db
from models.domain import Permit, ProductionBatch, ProductionItem
from processes.domain import permits, production
from tests.processes.permit_support import (
    apply,
    approve_through,
    card_person,
    count,
    permit_row,
    run_batch,
    seed_registration,
)
from tests.support import instance_row, person


def _approved(app, drain, p, legality: str = "legal") -> tuple[str, str]:
    seed_registration(app, p, months=2, legality=legality)
    public_id = apply(app, drain, p)
    approve_through(app, drain, public_id, risk=legality != "legal")
    return public_id, instance_row(app, public_id).result["application"]["number"]


def test_a6_empty_batch_ends_without_export(permit_app, drain):
    batch = run_batch(permit_app, drain)
    assert batch.status == "completed" and batch.result == {"collected": batch.result["collected"]}
    assert batch.result["collected"]["count"] == 0
    assert count(permit_app, ProductionBatch) == 0


def test_a6_one_batch_wakes_every_permit_with_its_own_result(permit_app, drain):
    good, rare = card_person("long", nth=10), person("long", rare=True)
    good_id, good_no = _approved(permit_app, drain, good)
    rare_id, rare_no = _approved(permit_app, drain, rare)
    batch = run_batch(permit_app, drain)
    imported = batch.result["imported"]
    assert (imported["made"], imported["failed"], imported["notified"]) == (1, 1, 2)
    assert batch.result["export"]["accepted"] == 2
    with permit_app.app_context():
        stored = db.session.execute(select(ProductionBatch)).scalar_one()
        items = {i.permit_id: i for i in db.session.execute(select(ProductionItem)).scalars()}
    assert stored.status == "imported" and stored.factory_batch_id == batch.result["export"]["batch_id"]
    assert items[permit_row(permit_app, good_no).id].result == "made"
    assert "生僻字" in items[permit_row(permit_app, rare_no).id].reason
    assert instance_row(permit_app, good_id).result["card_result"]["outcome"] == "made"
    assert instance_row(permit_app, rare_id).result["card_result"]["outcome"] == "failed"
    assert run_batch(permit_app, drain).result["collected"]["count"] == 0  # nothing is produced twice


def test_a6_express_batch_takes_only_express_permits(permit_app, drain):
    _, number = _approved(permit_app, drain, card_person("long", nth=11))
    assert run_batch(permit_app, drain, express=True).result["collected"]["count"] == 0
    with permit_app.app_context():
        db.session.execute(select(Permit).where(Permit.number == number)).scalar_one().express = True
        db.session.commit()
    assert run_batch(permit_app, drain).result["collected"]["count"] == 0
    assert run_batch(permit_app, drain, express=True).result["imported"]["made"] == 1


def _error(call, *args, **kwargs) -> str:
    with pytest.raises(HandlerError) as failed:
        call(*args, **kwargs)
    db.session.rollback()
    assert failed.value.message
    return failed.value.code


def test_a6_production_operators_refuse_repeats_and_unknown_batches(permit_app, drain):
    _approved(permit_app, drain, card_person("long", nth=12))
    batch = run_batch(permit_app, drain)
    ref = batch.result["collected"]["batch_ref"]
    with permit_app.app_context():
        assert _error(production.collect_batch, batch_ref=ref) == "BATCH_EXISTS"
        assert _error(production.import_results, batch_ref=ref, results=[]) == "BATCH_ALREADY_IMPORTED"
        assert _error(production.mark_exported, batch_ref="B-NONE", factory_batch_id="X") == "BATCH_NOT_FOUND"


def test_a6_permit_state_rules_each_have_their_error(permit_app, drain):
    _, number = _approved(permit_app, drain, card_person("long", nth=13))
    with permit_app.app_context():
        assert _error(permits.find_permit, "JZ-NONE") == "PERMIT_NOT_FOUND"
        assert _error(permits.approve_permit, number=number, issued_on="2026-11-29") == "PERMIT_WRONG_STATE"
        assert _error(permits.requeue_permit, number=number) == "CARD_NOT_FAILED"
        assert _error(permits.close_application, number=number, reason="x") == "PERMIT_WRONG_STATE"
        assert _error(permits.issue_permit, number=number, pickup="counter") == "PERMIT_WRONG_STATE"
        permit = db.session.execute(select(Permit).where(Permit.number == number)).scalar_one()
        permit.status = "producing"
        db.session.commit()
        assert _error(permits.issue_permit, number=number, pickup="counter") == "CARD_NOT_MADE"
        for blocked in ("lost", "cancelled"):
            permit = db.session.execute(select(Permit).where(Permit.number == number)).scalar_one()
            permit.status, permit.card_status = blocked, "made"
            db.session.commit()
            assert _error(permits.issue_permit, number=number, pickup="counter") == "PERMIT_BLOCKED"
            assert _error(permits.ensure_not_blocked, permit, "签注") == "PERMIT_BLOCKED"
            assert _error(permits.void_permit, number=number, reason="x") == "PERMIT_BLOCKED"
    assert permit_row(permit_app, number).status == "cancelled"  # refused calls changed nothing
