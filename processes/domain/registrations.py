"""Persons and residence registrations (A2, A3): one active registration per person."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from handlers.registry import HandlerError, operator
from integrations.idnumber import birth_date, gender
from models import db, utcnow
from models.domain import Deregistration, Person, ResidenceRegistration
from processes.integrity import require_intact

# A registration lapses unless renewed; the implementation rules give three years (deregistered on expiry, A3).
REGISTRATION_YEARS = 3


def upsert_person(applicant: dict[str, Any]) -> Person:
    """The person with this ID number, created or updated from the application."""
    person = require_intact(
        db.session.execute(select(Person).where(Person.id_number == applicant["id_number"])).scalar_one_or_none()
    )
    if person is None:
        person = Person(
            id_number=applicant["id_number"],
            birth_date=birth_date(applicant["id_number"]),
            gender=gender(applicant["id_number"]),
        )
        db.session.add(person)
    if person.deceased:
        raise HandlerError("PERSON_DECEASED", "该人员已登记死亡，不能办理业务")
    person.name = applicant["name"]
    person.mobile = applicant.get("mobile") or person.mobile
    person.updated_at = utcnow()
    return person


def active_registration(person_id: int) -> ResidenceRegistration | None:
    """The person's active registration, if any."""
    return require_intact(
        db.session.execute(
            select(ResidenceRegistration).where(
                ResidenceRegistration.person_id == person_id, ResidenceRegistration.status == "active"
            )
        ).scalar_one_or_none()
    )


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@operator("registration.record", transactional=True)
def record_registration(
    *, applicant: dict, registered_on: str, channel: str = "", insured_months: int = 0, house_id: str = ""
) -> dict[str, Any]:
    """Make the registration effective; a previous active one is superseded and deregistered (A3)."""
    person = upsert_person(applicant)
    db.session.flush()
    day = date.fromisoformat(registered_on)
    previous = active_registration(person.id)
    registration = ResidenceRegistration(
        number="pending",
        person_id=person.id,
        status="active",
        address=applicant["address"],
        address_code=applicant.get("address_code") or None,
        house_id=house_id or None,
        service_point=applicant.get("service_point") or None,
        reason=applicant.get("reason"),
        channel=channel or None,
        registered_on=day,
        valid_until=_years_later(day, REGISTRATION_YEARS),
        insured_months=insured_months,
    )
    if previous is not None:
        previous.status, previous.ended_at = "superseded", utcnow()
        db.session.add(
            Deregistration(
                registration_id=previous.id, reason="superseded", source="system", details={"by": "new registration"}
            )
        )
    db.session.add(registration)
    db.session.flush()
    registration.number = f"DJ{day:%Y%m%d}{registration.id:08d}"
    return {
        "number": registration.number,
        "status": "active",
        "registered_on": day.isoformat(),
        "valid_until": registration.valid_until.isoformat(),
        "superseded": previous.number if previous is not None else None,
    }


def registration_months(registration: ResidenceRegistration, on: date) -> int:
    """Whole months the registration has been in effect on a day."""
    start = registration.registered_on
    months = (on.year - start.year) * 12 + on.month - start.month
    return months - (1 if on.day < start.day else 0)
