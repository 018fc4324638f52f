"""Key-field integrity (S1): the full scan, the business-use gate's refusal, alert and audit event."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from models import Endorsement, Permit, Person, ResidenceRegistration, db
from models.protection import TamperedRecord
from processes.domain.reissue import find_person
from processes.integrity import scan
from processes.unit_of_work import transaction
from webapp.cli import main


def _seed() -> dict[str, int]:
    person = Person(id_number="310101199001011234", name="张三", gender="M", birth_date=date(1990, 1, 1))
    db.session.add(person)
    db.session.flush()
    registration = ResidenceRegistration(number="DJ-I-1", person_id=person.id, status="active", address="田林路1号")
    db.session.add(registration)
    db.session.flush()
    permit = Permit(number="P-I-1", person_id=person.id, registration_id=registration.id, status="issued")
    db.session.add(permit)
    db.session.flush()
    db.session.add(
        Endorsement(
            permit_id=permit.id, kind="auto", endorsed_on=date(2026, 1, 1), valid_until=date(2027, 1, 1), decided_by="t"
        )
    )
    db.session.commit()
    return {"person": person.id, "registration": registration.id, "permit": permit.id}


def _sql(statement: str, **params) -> None:
    db.session.execute(text(statement), params)
    db.session.commit()
    db.session.expunge_all()


def test_the_scan_passes_clean_rows_and_lists_each_kind_of_tampering(ctx):
    ids = _seed()
    clean = scan()
    assert clean.tampered == [] and clean.per_table["person"] == 1 and clean.checked >= 4
    _sql("UPDATE permit SET status = 'cancelled' WHERE id = :id", id=ids["permit"])
    _sql("UPDATE residence_registration SET integrity_mac = NULL WHERE id = :id", id=ids["registration"])
    _sql("UPDATE person SET id_number_bidx = 'blind-index:1$00' WHERE id = :id", id=ids["person"])
    _sql("UPDATE endorsement SET decided_by = 'someone-else'")
    found = {(table, reason) for table, _, reason in scan().tampered}
    assert found == {
        ("permit", "mac_mismatch"),
        ("residence_registration", "mac_missing"),
        ("person", "mac_mismatch"),
        ("endorsement", "mac_mismatch"),
    }
    assert [t for t, _, _ in scan(tables=["permit"]).tampered] == ["permit"]


def test_a_tampered_person_is_refused_with_an_alert_and_an_audit_event(ctx, caplog):
    from models.security import AuditLog

    ids = _seed()
    _sql("UPDATE person SET birth_date = '1980-01-01' WHERE id = :id", id=ids["person"])
    before = db.session.execute(select(func.count()).select_from(AuditLog)).scalar()
    with pytest.raises(TamperedRecord) as refused, transaction():
        find_person("310101199001011234")
    assert refused.value.code == "RECORD_TAMPERED" and refused.value.details["table"] == "person"
    assert "refused business use of person" in caplog.text
    events = db.session.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).scalars().all()
    assert db.session.execute(select(func.count()).select_from(AuditLog)).scalar() == before + 1
    assert events[0].event == "integrity.violation" and events[0].result == "denied"
    assert events[0].object_type == "person" and events[0].object_id == str(ids["person"])


def test_integrity_check_command_lists_tampered_rows_and_exits_1(app, database_url, simulator):
    with app.app_context():
        ids = _seed()
    env = {
        "PERMITFLOW_ENV": "test",
        "DATABASE_URL": database_url,
        "SIMULATOR_URL": simulator.url,
        "JOB_MODE": "eager",
        "REDIS_URL": "",
        "LOG_JSON": "false",
        "LOG_LEVEL": "CRITICAL",
    }
    ok = CliRunner().invoke(main, ["integrity", "check"], env=env)
    assert ok.exit_code == 0 and "no tampered rows" in ok.output and "rows/s" in ok.output, ok.output
    with app.app_context():
        _sql("UPDATE permit SET valid_until = '2099-12-31' WHERE id = :id", id=ids["permit"])
    bad = CliRunner().invoke(main, ["integrity", "check"], env=env)
    assert bad.exit_code == 1 and f"TAMPERED permit id={ids['permit']} (mac_mismatch)" in bad.output


def test_the_scan_checks_every_staff_accounts_sign_in_seal(app):
    from models import AppUser
    from tests.webapp.auth_support import ensure_demo_user

    ensure_demo_user(app, "clerk01")
    ensure_demo_user(app, "approver1")
    with app.app_context():
        clean = scan()
        assert clean.tampered == [] and clean.per_table["app_user"] == 2
        clerk, approver = (
            db.session.execute(select(AppUser.id).where(AppUser.username == name)).scalar_one()
            for name in ("clerk01", "approver1")
        )
        _sql("UPDATE app_user SET role = 'sysadmin' WHERE id = :id", id=clerk)  # a role granted behind our back
        _sql("UPDATE app_user SET auth_mac = NULL WHERE id = :id", id=approver)
        assert sorted(scan().tampered) == sorted(
            [("app_user", clerk, "seal_mismatch"), ("app_user", approver, "seal_missing")]
        )
        assert scan(tables=["permit"]).per_table.get("app_user") is None
        assert [t for t, _, _ in scan(tables=["app_user"]).tampered] == ["app_user", "app_user"]
