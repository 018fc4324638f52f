"""Business records for process tests, written directly (parts B and C must not depend on the A6 process)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from integrations.idnumber import birth_date, gender
from models import db
from models.domain import Permit, Person, ResidenceRegistration
from tests.support import ADDRESS
from tests.support import person as sim_person


def today() -> date:
    """The business day the platform uses (Asia/Shanghai)."""
    from datetime import datetime

    from flask import current_app

    return datetime.now(current_app.extensions["permitflow"].settings.zone).date()


def make_person(profile: str = "long", nth: int = 0, *, deceased: bool = False, sim=None) -> Person:
    """A Person row for the nth simulated person with this HRSS profile (or for the given simulated person)."""
    p = sim or sim_person(profile, nth)
    row = db.session.execute(db.select(Person).where(Person.id_number == p.id_number)).scalar_one_or_none()
    if row is None:
        row = Person(
            id_number=p.id_number,
            name=p.name,
            gender=gender(p.id_number),
            birth_date=birth_date(p.id_number),
            mobile=p.mobile,
        )
        db.session.add(row)
    row.deceased = deceased
    db.session.flush()
    return row


def make_registration(
    person: Person, *, status: str = "active", registered_on: date | None = None, valid_until: date | None = None
) -> ResidenceRegistration:
    """An effective residence registration for the person."""
    start = registered_on or today() - timedelta(days=400)
    row = ResidenceRegistration(
        number=f"DJT{secrets.token_hex(6)}",
        person_id=person.id,
        status=status,
        address=ADDRESS,
        registered_on=start,
        valid_until=valid_until or start + timedelta(days=3 * 365),
        channel="counter",
    )
    db.session.add(row)
    db.session.flush()
    return row


def make_permit(
    profile: str = "long",
    nth: int = 0,
    *,
    status: str = "issued",
    due_in_days: int = 10,
    deceased: bool = False,
    paused: bool = False,
    registration_status: str = "active",
    sim=None,
) -> Permit:
    """An issued permit expiring in `due_in_days`, with its person and registration; committed."""
    person = make_person(profile, nth, deceased=deceased, sim=sim)
    registration = make_registration(person, status=registration_status)
    permit = Permit(
        number=f"JZZ{secrets.token_hex(6).upper()}",
        person_id=person.id,
        registration_id=registration.id,
        status=status,
        production_paused=paused,
        valid_from=today() - timedelta(days=365 - due_in_days),
        valid_until=today() + timedelta(days=due_in_days),
        card_status="delivered",
    )
    db.session.add(permit)
    db.session.commit()
    return permit
