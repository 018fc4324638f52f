"""Statistics (C4): every report's figures against hand-computed expectations on a small fixture."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from models import (
    Deregistration,
    Endorsement,
    Permit,
    Person,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ProductionBatch,
    ProductionItem,
    ResidenceRegistration,
    SmsBlock,
    db,
)
from models.reports import ExportJob, MonthlyReport, ReportDailyStat, ReportRefresh
from processes.reports import figures, run_report
from processes.reports.monthly import daily_run, month_period, previous_month
from processes.reports.summary import refresh

ZONE = ZoneInfo("Asia/Shanghai")
ID1, ID2, ID3, ID_UNKNOWN = "110101199003070011", "110101198512120024", "310101195001010012", "310101194501010017"
MARCH = figures.Period(date(2026, 3, 1), date(2026, 3, 31), "month")


def at(month: int, day: int, hour: int = 10, year: int = 2026) -> datetime:
    """A Shanghai wall-clock instant."""
    return datetime(year, month, day, hour, tzinfo=ZONE)


def today() -> date:
    return datetime.now(ZONE).date()


def clear_report_tables() -> None:
    """The shared test cleanup does not know the report tables: empty them here."""
    for model in (ReportDailyStat, ReportRefresh, MonthlyReport, ExportJob):
        db.session.execute(delete(model))
    db.session.commit()


def _definition(key: str) -> int:
    return (
        db.session.execute(
            select(ProcessDefinition.id).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())
        )
        .scalars()
        .first()
    )


def _instance(key: str, public_id: str, created: datetime) -> ProcessInstance:
    row = ProcessInstance(
        public_id=public_id,
        definition_id=_definition(key),
        process_key=key,
        business_key=f"BK-{public_id}",
        started_by="test",
        status="completed",
        snapshot="",
        created_at=created,
        updated_at=created,
        lock_version=1,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _event(instance: ProcessInstance, when: datetime, kind: str, spec: str | None = None, name: str | None = None):
    db.session.add(ProcessEvent(instance_id=instance.id, at=when, actor="t", kind=kind, task_spec=spec, task_name=name))


def build_fixture() -> dict:
    """Three persons, their registrations, permits, production, endorsements, events and a death-list batch."""
    clear_report_tables()
    t = today()
    people = []
    for number, name in ((ID1, "张三"), (ID2, "李四"), (ID3, "王五")):
        person = Person(id_number=number, name=name, gender="M", birth_date=date(1990, 3, 7), mobile="13800138000")
        db.session.add(person)
        people.append(person)
    db.session.flush()
    p1, p2, p3 = people
    regs = [
        ResidenceRegistration(
            number="RG1",
            person_id=p1.id,
            status="active",
            address="上海市浦东新区A路1号",
            district="浦东新区",
            channel="counter",
            registered_on=date(2026, 3, 2),
            valid_until=t + timedelta(days=100),
            created_at=at(3, 2),
        ),
        ResidenceRegistration(
            number="RG2",
            person_id=p2.id,
            status="active",
            address="上海市徐汇区B路2号",
            district="徐汇区",
            channel="suishenban",
            registered_on=date(2026, 3, 3),
            valid_until=t - timedelta(days=5),
            created_at=at(3, 3),
        ),
        ResidenceRegistration(
            number="RG3",
            person_id=p3.id,
            status="deregistered",
            address="上海市静安区C路3号",
            district="静安区",
            channel="counter",
            registered_on=date(2025, 2, 10),
            valid_until=t + timedelta(days=10),
            created_at=at(2, 10, year=2025),
        ),
    ]
    db.session.add_all(regs)
    db.session.flush()
    i1 = _instance("permit_application", "rpt-i1", at(3, 1))
    i2 = _instance("permit_application", "rpt-i2", at(3, 2))
    _instance("residence_registration", "rpt-i3", at(3, 3))
    permits = [
        Permit(number="JZ1", person_id=p1.id, registration_id=regs[0].id, status="issued", express=False,
               created_at=at(3, 1), issued_at=at(3, 11), valid_until=t + timedelta(days=200), instance_id=i1.id),
        Permit(number="JZ2", person_id=p2.id, registration_id=regs[1].id, status="issued", express=True,
               created_at=at(3, 2), issued_at=at(3, 6), valid_until=t - timedelta(days=1), instance_id=i2.id),
        Permit(number="JZ3", person_id=p3.id, registration_id=regs[2].id, status="issued", express=False,
               created_at=at(3, 20), issued_at=at(4, 2), valid_until=t + timedelta(days=30)),
    ]  # fmt: skip
    db.session.add_all(permits)
    db.session.flush()
    jz1, jz2, jz3 = permits
    db.session.add_all(
        [
            Endorsement(permit_id=jz1.id, kind="auto", endorsed_on=date(2026, 3, 15), valid_until=t, decided_by="s"),
            Endorsement(permit_id=jz2.id, kind="counter", endorsed_on=date(2026, 3, 20), valid_until=t, decided_by="c"),
            Endorsement(permit_id=jz1.id, kind="auto", endorsed_on=date(2026, 4, 10), valid_until=t, decided_by="s"),
            Deregistration(registration_id=regs[2].id, reason="deceased", source="death_list", created_at=at(3, 25)),
        ]
    )
    b1 = ProductionBatch(batch_ref="B1", status="imported", exported_at=at(3, 5, 9), imported_at=at(3, 7, 9))
    b2 = ProductionBatch(batch_ref="B2", status="exported", exported_at=at(3, 28, 9))
    db.session.add_all([b1, b2])
    db.session.flush()
    db.session.add_all(
        [
            ProductionItem(batch_id=b1.id, permit_id=jz1.id, result="made"),
            ProductionItem(batch_id=b1.id, permit_id=jz2.id, result="failed"),
            ProductionItem(batch_id=b2.id, permit_id=jz3.id, result="pending"),
        ]
    )
    # Node times: clerk review 2 h and 4 h (avg 3 h); first-level review 4 h and 20 h (avg 12 h).
    _event(i1, at(3, 1, 10), "started")
    _event(i1, at(3, 1, 12), "task_completed", "Task_clerk_review", "网点审核")
    _event(i1, at(3, 1, 16), "task_completed", "Task_l1_review", "业务审核（一级）")
    _event(i2, at(3, 2, 10), "started")
    _event(i2, at(3, 2, 14), "task_completed", "Task_clerk_review", "网点审核")
    _event(i2, at(3, 3, 10), "task_completed", "Task_l1_review", "业务审核（一级）")
    db.session.add_all(
        [
            SmsBlock(id_number=ID3, reason="deceased", source="death_list", batch_ref="DL-202603", created_by="t",
                     created_at=at(3, 26)),
            SmsBlock(id_number=ID_UNKNOWN, reason="deceased", source="death_list", batch_ref="DL-202603",
                     created_by="t", created_at=at(3, 26)),
        ]
    )  # fmt: skip
    db.session.commit()
    return {"permits": permits, "persons": people, "registrations": regs}


@pytest.fixture
def fixture(ctx):
    data = build_fixture()
    refresh(date(2025, 1, 1), today(), ZONE)
    db.session.commit()
    yield data
    clear_report_tables()


def test_production_cycle_average_and_per_node_times(fixture):
    report = figures.production_cycle(MARCH)
    months, nodes = report["tables"]
    assert months.rows == [["2026-03", 2, 7.0, 1, 4.0]]  # 10 days and 4 days; the express one 4 days
    assert months.total == ["合计", 2, 7.0, None, None]
    assert nodes.rows == [["居住证申领", "业务审核（一级）", 2, 12.0], ["居住证申领", "网点审核", 2, 3.0]]
    april = figures.production_cycle(figures.Period(date(2026, 4, 1), date(2026, 4, 30)))
    assert april["tables"][0].rows == [["2026-04", 1, 13.0, 0, None]]  # JZ3: 20 March → 2 April


def test_production_export_and_import_counts(fixture):
    table = figures.production_counts(MARCH)["tables"][0]
    assert table.rows == [["2026-03", 3, 0, 1, 1]]  # B1 (2 items) and B2 (1) exported; B1 back: 1 made, 1 failed
    by_day = figures.production_counts(figures.Period(date(2026, 3, 5), date(2026, 3, 7), "day"))["tables"][0]
    assert by_day.rows == [["2026-03-05", 2, 0, 0, 0], ["2026-03-06", 0, 0, 0, 0], ["2026-03-07", 0, 0, 1, 1]]


def test_deregistrations_and_endorsements_by_period(fixture):
    dereg, endorse = figures.deregistrations_endorsements(MARCH)["tables"]
    assert dereg.columns[1:] == ["本人申请", "死亡", "迁离", "重新登记", "到期", "合计"]
    assert dereg.rows == [["2026-03", 0, 1, 0, 0, 0, 1]]
    assert endorse.rows == [["2026-03", 1, 1, 0, 2]]  # the April endorsement is outside the period


def test_valid_and_expired_permits_and_registrations_are_live(fixture):
    table = figures.validity(today())["tables"][0]
    assert table.rows == [["居住证", 2, 1, 3], ["居住登记", 1, 1, 2]]  # RG3 is deregistered: not counted


def test_business_volume_by_type_and_channel(fixture):
    by_type, by_channel = figures.business_volume(MARCH)["tables"]
    assert by_type.columns == ["期间", "居住证申领", "居住登记", "合计"]
    assert by_type.rows == [["2026-03", 2, 1, 3]]
    assert by_channel.rows == [["2026-03", 3, 3]]  # all started by staff (no channel client)


def test_death_list_comparison_by_batch(fixture):
    table = figures.death_list_batches(today())["tables"][0]
    assert [row[0] for row in table.rows] == ["DL-202603"]
    assert table.rows[0][2:] == [2, 1, 0, 1]  # listed 2, one known person, no active registration, 1 valid permit


def test_refresh_replaces_a_day_instead_of_adding_twice(fixture):
    refresh(date(2026, 3, 1), date(2026, 3, 31), ZONE)
    refresh(date(2026, 3, 1), date(2026, 3, 31), ZONE)
    db.session.commit()
    assert figures.production_cycle(MARCH)["tables"][0].rows[0][1] == 2


def test_run_report_knows_every_report(fixture):
    from processes.reports import REPORTS

    for name in REPORTS:
        assert run_report(name, MARCH, today())["tables"]


def test_period_validation():
    with pytest.raises(Exception) as bad:
        figures.parse_period({"start": "2026-13-01"}, date(2026, 11, 29))
    assert bad.value.code == "PERIOD_INVALID"
    with pytest.raises(Exception) as backwards:
        figures.parse_period({"start": "2026-05-01", "end": "2026-04-01"}, date(2026, 11, 29))
    assert backwards.value.code == "PERIOD_INVALID"
    period = figures.parse_period({}, date(2026, 11, 29))
    assert (period.start, period.end, period.group) == (date(2025, 11, 1), date(2026, 11, 29), "month")


def test_monthly_report_is_generated_once_and_kept(fixture):
    assert previous_month(date(2026, 4, 1)) == "2026-03"
    assert month_period("2026-02").end == date(2026, 2, 28)
    first = daily_run(refresh_days=2, as_of="2026-04-01")
    assert first["month"] == "2026-03" and first["generated"] is True
    db.session.commit()
    kept = db.session.execute(select(MonthlyReport).where(MonthlyReport.month == "2026-03")).scalar_one()
    sections = {s["title"]: s for s in kept.data["sections"]}
    assert sections["制证周期（申请至发证）"]["rows"] == [["2026-03", 2, 7.0, 1, 4.0]]
    assert sections["业务量（按业务类型）"]["total"] == ["合计", 2, 1, 3]
    second = daily_run(refresh_days=2, as_of="2026-04-02")
    assert second["generated"] is False
    db.session.commit()
    assert db.session.execute(select(MonthlyReport)).scalars().all() == [kept]


def test_the_report_schedule_generates_last_months_report_once(fixture, drain):
    from processes.instances import start_instance
    from processes.platform import get_platform
    from processes.stepping import Actor

    platform = get_platform()
    data = {"refresh_days": 2, "interval": "PT1H"}
    instance, created = start_instance(
        platform, "report_schedule", "SCHEDULE-REPORTS", data, Actor(kind="ops", name="ops:t"), idempotency_key="rs"
    )
    assert created
    drain()
    db.session.expire_all()
    month = previous_month(today())
    kept = db.session.execute(select(MonthlyReport).where(MonthlyReport.month == month)).scalar_one()
    assert kept.generated_by == "scheduler"
    row = db.session.get(ProcessInstance, instance.id)
    assert row.status == "waiting"  # on the timer until the next run
    assert db.session.execute(select(ReportRefresh)).scalars().first() is not None


def test_death_lists_imported_from_excel_count_too(fixture):
    db.session.add(
        SmsBlock(
            id_number=ID1, reason="deceased", source="death_list_import", batch_ref="SW20260401", created_by="t",
            created_at=at(4, 1),
        )
    )  # fmt: skip
    db.session.commit()
    rows = {row[0]: row for row in figures.death_list_batches(today())["tables"][0].rows}
    assert rows["SW20260401"][2:] == [1, 1, 1, 1]  # person 1: active registration, valid permit


def test_the_daily_run_deletes_expired_export_files(fixture):
    import os
    import time as clock

    from processes.platform import get_platform
    from processes.queries.exports import export_dir

    settings = get_platform().settings
    folder = export_dir(settings)
    old, fresh = folder / "expired-test.xlsx", folder / "fresh-test.xlsx"
    old.write_bytes(b"sealed"), fresh.write_bytes(b"sealed")
    stale = clock.time() - settings.EXPORT_KEEP_HOURS * 3600 - 60
    os.utime(old, (stale, stale))
    result = daily_run(refresh_days=1, as_of="2026-04-05")
    db.session.commit()
    assert result["exports_purged"] >= 1 and not old.exists() and fresh.exists()
    fresh.unlink()
