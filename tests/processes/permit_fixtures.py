"""The permit_app fixture (A6 and reissue tests), loaded for the whole suite by tests/conftest.py."""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from sqlalchemy import text

from models import db
from models.domain import Permit, Person, ResidenceRegistration
from processes.platform import get_platform


@pytest.fixture
def permit_app(app):
    """The test app with the SMS outbox client and the B3 templates (the permit flow sends SMS at each stage)."""
    from processes.sms import SmsOutbox
    from processes.sms_templates import ensure_default_templates

    platform = get_platform(app)
    platform.clients.setdefault("sms_outbox", SmsOutbox(platform))
    with app.app_context():
        ensure_default_templates()
        unique_permit_numbers()
    return app


def unique_permit_numbers() -> None:
    """Start this test's permit ids at a random floor: the simulators outlive the per-test database reset, and
    a permit number seen before with another holder would be refused by them as an idempotency conflict."""
    floor = 10_000_000 + secrets.randbelow(8_000_000) * 10
    person = Person(id_number="000000190001010000", name="占位", gender="M", birth_date=date(1900, 1, 1))
    db.session.add(person)
    db.session.flush()
    registration = ResidenceRegistration(
        number=f"DJ-FLOOR-{floor}", person_id=person.id, status="superseded", address="（占位）"
    )
    db.session.add(registration)
    db.session.flush()
    db.session.add(
        Permit(id=floor, number=f"FLOOR{floor}", person_id=person.id, registration_id=registration.id, status="voided")
    )
    db.session.flush()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('permit', 'id'), :floor)"), {"floor": floor})
        # RQ job ids are made from outbox ids, which the per-test TRUNCATE restarts: keep them apart as well.
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('outbox_job', 'id'), :floor)"), {"floor": floor})
    db.session.commit()
