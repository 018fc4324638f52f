"""Deregistration (A3): on request, on a death-list match, on expiry, and after being superseded."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from handlers.registry import HandlerError, operator
from models import db, utcnow
from models.domain import Deregistration, Person, ResidenceRegistration
from processes.integrity import require_intact

DEREGISTER_PROCESS = "registration_deregistration"
SWEEP_BATCH = 100  # deregistrations started per pass: one transaction never grows unbounded
CHANNEL_REASONS = ("request", "moved_away")  # what an applicant may ask for; the rest only the system detects


def registration_by_number(number: str) -> ResidenceRegistration:
    """The registration with this number, or the REGISTRATION_NOT_FOUND error."""
    registration = require_intact(
        db.session.execute(
            select(ResidenceRegistration).where(ResidenceRegistration.number == number)
        ).scalar_one_or_none()
    )
    if registration is None:
        raise HandlerError("REGISTRATION_NOT_FOUND", f"居住登记 {number} 不存在")
    return registration


def deregister(
    registration: ResidenceRegistration, reason: str, source: str, details: dict[str, Any]
) -> Deregistration:
    """End an active registration and write its Deregistration row (the A3 process then notifies)."""
    if registration.status != "active":
        raise HandlerError(
            "REGISTRATION_NOT_ACTIVE", "该居住登记已失效或已注销，无需再办理注销", {"status": registration.status}
        )
    registration.status, registration.ended_at = "deregistered", utcnow()
    row = Deregistration(
        registration_id=registration.id, reason=reason, source=source, details=details, status="notifying"
    )
    db.session.add(row)
    db.session.flush()
    return row


@operator("deregistration.record", transactional=True)
def record_deregistration(*, registration_number: str, reason: str = "request") -> dict[str, Any]:
    """Deregister on an applicant's request, or take over a deregistration the system already recorded."""
    registration = registration_by_number(registration_number)
    row = db.session.execute(
        select(Deregistration).where(Deregistration.registration_id == registration.id)
    ).scalar_one_or_none()
    if row is not None and row.status == "notified":
        raise HandlerError(
            "REGISTRATION_NOT_ACTIVE", "该居住登记已注销并已通知相关部门", {"status": registration.status}
        )
    if row is None:
        if reason not in CHANNEL_REASONS:
            # Death, expiry and supersession are facts the system detects, never a channel's claim.
            raise HandlerError("DEREGISTRATION_REASON_INVALID", "该注销原因只能由系统核实后办理", {"reason": reason})
        row = deregister(registration, reason, "channel", {"requested_on": utcnow().date().isoformat()})
    row.status = "notifying"
    person = require_intact(db.session.get(Person, registration.person_id))
    return {
        "id": row.id,
        "registration_number": registration.number,
        "reason": row.reason,
        "source": row.source,
        "id_number": person.id_number,
        "name": person.name,
        "mobile": person.mobile or "",
        "deceased": bool(person.deceased),
        "sms_allowed": bool(person.mobile) and not person.deceased,
        "occurred_at": (registration.ended_at or utcnow()).isoformat(timespec="seconds"),
    }


@operator("deregistration.notified", transactional=True)
def mark_notified(*, registration_number: str, department: str, receipt_no: str) -> dict[str, Any]:
    """Record which department was notified of the deregistration, with its receipt."""
    registration = registration_by_number(registration_number)
    row = db.session.execute(
        select(Deregistration).where(Deregistration.registration_id == registration.id)
    ).scalar_one()
    if not any(n.get("department") == department for n in row.notified):
        # A new list: JSON columns only notice reassignment.
        row.notified = [
            *row.notified,
            {"department": department, "receipt_no": receipt_no, "at": utcnow().isoformat(timespec="seconds")},
        ]
    row.status = "notified"
    return {"notified": [n["department"] for n in row.notified]}


def _start(registration: ResidenceRegistration, reason: str) -> None:
    from processes.instances import start_instance
    from processes.platform import get_platform
    from processes.stepping import Actor

    # Joins the caller's transaction: the record and the process that notifies commit together.
    start_instance(
        get_platform(),
        DEREGISTER_PROCESS,
        f"DR-{registration.number}",
        {"registration_number": registration.number, "reason": reason},
        Actor.system(),
    )


@operator("deregistration.detect", transactional=True)
def detect(*, deceased_ids: list, as_of: str = "", batch_size: int = SWEEP_BATCH) -> dict[str, Any]:
    """Deregister for deaths and expiry, pick up superseded registrations, start the A3 process for each."""
    from processes.platform import get_platform

    today = date.fromisoformat(as_of) if as_of else datetime.now(get_platform().settings.zone).date()
    counts = {"deceased": 0, "expired": 0, "superseded": 0}
    budget = batch_size
    if deceased_ids:
        persons = db.session.execute(select(Person).where(Person.id_number.in_(deceased_ids))).scalars().all()
        for person in persons:
            person.deceased = True
        for registration in db.session.execute(
            select(ResidenceRegistration)
            .where(
                ResidenceRegistration.person_id.in_([p.id for p in persons]), ResidenceRegistration.status == "active"
            )
            .limit(budget)
        ).scalars():
            deregister(registration, "deceased", "death_list", {"matched_on": today.isoformat()})
            _start(registration, "deceased")
            counts["deceased"] += 1
        budget -= counts["deceased"]
    for registration in (
        db.session.execute(
            select(ResidenceRegistration)
            .where(ResidenceRegistration.status == "active", ResidenceRegistration.valid_until < today)
            .limit(max(budget, 0))
        )
        .scalars()
        .all()
    ):
        deregister(registration, "expired", "system", {"valid_until": registration.valid_until.isoformat()})
        _start(registration, "expired")
        counts["expired"] += 1
    budget -= counts["expired"]
    for row in (
        db.session.execute(select(Deregistration).where(Deregistration.status == "recorded").limit(max(budget, 0)))
        .scalars()
        .all()
    ):
        row.status = "notifying"
        _start(require_intact(db.session.get(ResidenceRegistration, row.registration_id)), row.reason)
        counts[row.reason if row.reason in counts else "superseded"] += 1
    return {**counts, "more": sum(counts.values()) >= batch_size, "as_of": today.isoformat()}
