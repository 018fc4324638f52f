"""`demo-data --scale`: realistic history whose protected rows verify, found through blind indexes, in the reports."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from integrations.idnumber import id_number_problem
from models import Endorsement, Permit, Person, ProcessEvent, ResidenceRegistration, SmsBlock, db
from models.protection import integrity_state
from processes.reports import figures
from processes.scale_data import generate, id_number
from tests.processes.test_reports import clear_report_tables


@pytest.fixture
def scaled(ctx):
    from processes.platform import get_platform

    clear_report_tables()
    result = generate(get_platform(), 300, seed=3, today=date(2026, 11, 29), workers=2, chunk=100)
    yield result
    clear_report_tables()


def test_generated_id_numbers_are_valid_and_unique():
    numbers = [id_number(k) for k in range(5000)]
    assert len(set(numbers)) == 5000
    assert all(id_number_problem(n) is None for n in numbers[:200])


def test_scale_data_rows_are_protected_and_consistent(scaled):
    counts = scaled["rows"]
    assert counts["person"] == counts["permit"] == counts["residence_registration"] == 300
    events = db.session.execute(select(func.count()).select_from(ProcessEvent)).scalar_one()
    assert events == counts["process_event"] and 4 * 300 <= events <= 6 * 300
    persons = db.session.execute(select(Person).order_by(Person.id).limit(50)).scalars().all()
    assert all(integrity_state(p) is None for p in persons)  # every MAC verifies, every ciphertext decrypts
    assert all(id_number_problem(p.id_number) is None for p in persons)
    found = db.session.execute(select(Person).where(Person.id_number == persons[7].id_number)).scalar_one()
    assert found.id == persons[7].id  # the blind index is right
    for model in (Permit, ResidenceRegistration, Endorsement):
        rows = db.session.execute(select(model).limit(50)).scalars().all()
        assert rows and all(integrity_state(r) is None for r in rows), model.__name__
    blocked = db.session.execute(select(SmsBlock)).scalars().all()
    assert all(b.id_number and b.batch_ref.startswith("DL-") for b in blocked)


def test_scale_data_feeds_the_reports(scaled):
    period = figures.Period(date(2023, 11, 1), date(2026, 11, 29), "month")  # the whole 3-year history
    cycle = figures.production_cycle(period)
    assert cycle["summary"]["issued"] > 200 and 5 < cycle["summary"]["avg_days"] < 25
    names = {row[1] for row in cycle["tables"][1].rows}
    assert {"网点审核", "业务审核（一级）", "发证（邮寄）"} <= names
    business = figures.business_volume(period)["tables"][0]
    assert business.total[-1] == 300
