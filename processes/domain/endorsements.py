"""Yearly endorsement (签注, A7): selecting due permits, the facts the rules need, and the endorsement itself."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from handlers.registry import HandlerError, operator
from models import db
from models.domain import Endorsement, Permit, Person, ResidenceRegistration
from processes.domain.permits import find_permit
from processes.domain.registrations import _years_later
from processes.integrity import require_intact

ENDORSE_PROCESS = "auto_endorsement"
DUE_WITHIN_DAYS = 30  # permits expiring within this many days are endorsed (and reminded)
BATCH_SIZE = 100  # instances started per pass: one transaction never grows unbounded

# Each state that forbids an endorsement, with its own code and the reason shown to staff.
_BLOCKED: dict[str, tuple[str, str]] = {
    "lost": ("PERMIT_LOST", "居住证已挂失，不能签注"),
    "cancelled": ("PERMIT_CANCELLED", "居住证已注销，不能签注"),
    "voided": ("PERMIT_VOIDED", "居住证已作废，不能签注"),
}


def check_endorsable(permit: Permit, person: Person, on: date) -> None:
    """Raise the specific error for the first state rule that forbids endorsing this permit on a day."""
    if permit.status in _BLOCKED:
        code, message = _BLOCKED[permit.status]
        raise HandlerError(code, message, {"permit": permit.number, "status": permit.status})
    if permit.status != "issued":
        raise HandlerError("PERMIT_NOT_ISSUED", "居住证尚未发放，不能签注", {"status": permit.status})
    if person.deceased:
        raise HandlerError("PERSON_DECEASED", "持证人已登记死亡，不能签注")
    if permit.production_paused:
        raise HandlerError("PERMIT_PAUSED", "居住证处于暂停状态，不能签注")
    if permit.valid_until is None or permit.valid_until < on:
        raise HandlerError("PERMIT_EXPIRED", "居住证已过有效期，须重新申领，不能签注")


@operator("endorsement.facts", transactional=True)
def endorsement_facts(*, permit_number: str, as_of: str) -> dict[str, Any]:
    """What the endorsement rules look at: permit state, registration validity, person (A7)."""
    permit = find_permit(permit_number)
    person = require_intact(db.session.get(Person, permit.person_id))
    registration = require_intact(db.session.get(ResidenceRegistration, permit.registration_id))
    day = date.fromisoformat(as_of)
    registration_valid = (
        registration is not None
        and registration.status == "active"
        and (registration.valid_until is None or registration.valid_until >= day)
    )
    return {
        "permit_number": permit.number,
        "permit_status": permit.status,
        "production_paused": bool(permit.production_paused),
        "valid_until": permit.valid_until.isoformat() if permit.valid_until else None,
        "registration_valid": registration_valid,
        "deceased": bool(person.deceased),
        "id_number": person.id_number,
        "name": person.name,
        "mobile": person.mobile or "",
        "as_of": day.isoformat(),
    }


@operator("endorsement.endorse", transactional=True)
def endorse(*, permit_number: str, as_of: str, kind: str, decided_by: str, reasons: list | None = None) -> dict:
    """Endorse the permit: one more year of validity and an Endorsement row; the state rules are enforced."""
    permit = find_permit(permit_number)
    person = require_intact(db.session.get(Person, permit.person_id))
    day = date.fromisoformat(as_of)
    check_endorsable(permit, person, day)
    permit.valid_until = _years_later(permit.valid_until, 1)
    row = Endorsement(
        permit_id=permit.id,
        kind=kind,
        endorsed_on=day,
        valid_until=permit.valid_until,
        decided_by=decided_by,
        reasons=list(reasons or []),
    )
    db.session.add(row)
    db.session.flush()
    return {"id": row.id, "kind": kind, "endorsed_on": day.isoformat(), "valid_until": row.valid_until.isoformat()}


def _due_permits(today: date, within_days: int, limit: int) -> list[Permit]:
    # Served by ix_permit_valid: a range on valid_until, then the small per-row filters.
    return list(
        db.session.execute(
            select(Permit)
            .where(
                Permit.valid_until >= today,
                Permit.valid_until <= today + timedelta(days=within_days),
                Permit.status.in_(("issued", "lost")),
                or_(Permit.endorsement_due.is_(None), Permit.endorsement_due != Permit.valid_until),
            )
            .order_by(Permit.valid_until, Permit.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


@operator("endorsement.start_due", transactional=True)
def start_due(*, as_of: str = "", within_days: int = DUE_WITHIN_DAYS, batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    """Start one endorsement instance per due permit, a bounded batch per call; `more` asks for another pass."""
    from processes.instances import start_instance
    from processes.platform import get_platform
    from processes.stepping import Actor

    platform = get_platform()
    # The daily run passes no date: "today" is the platform's business day when the timer fires.
    today = date.fromisoformat(as_of) if as_of else datetime.now(platform.settings.zone).date()
    permits = _due_permits(today, within_days, batch_size)
    for permit in permits:
        permit.endorsement_due = permit.valid_until
        # Joins this step's transaction: the permit marker and the new instance commit together.
        start_instance(
            platform,
            ENDORSE_PROCESS,
            f"EN-{permit.number}-{permit.valid_until:%Y%m%d}",
            {"permit_number": permit.number},
            Actor.system(),
        )
    return {"started": len(permits), "more": len(permits) == batch_size, "as_of": today.isoformat()}
